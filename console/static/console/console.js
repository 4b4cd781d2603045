// Parts of a page that follow a running process: `data-live="<url>"` is fetched again every few
// seconds and replaces the element, until the answer no longer carries `data-live` (it ended).
(function () {
  const PERIOD = 3000;
  function follow(element) {
    const url = element.dataset.live;
    if (!url) return;
    setTimeout(async function () {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
        if (!response.ok) return follow(element);
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();
        const fresh = holder.firstElementChild;
        const open = new Set(Array.from(element.querySelectorAll("details[open]")).map((d) => d.id));
        fresh.querySelectorAll("details").forEach((d) => { if (open.has(d.id)) d.open = true; });
        element.replaceWith(fresh);
        followLogs(fresh);
        follow(fresh);
      } catch (error) {
        follow(element);
      }
    }, PERIOD);
  }
  // A task's log, read from the API (the same rights), shown when its panel opens.
  function followLogs(root) {
    root.querySelectorAll("details[data-log]").forEach(function (panel) {
      const load = async function () {
        if (!panel.open) return;
        const target = panel.querySelector(".log");
        const response = await fetch(panel.dataset.log, { credentials: "same-origin", headers: { Accept: "text/plain" } });
        target.textContent = response.ok ? (await response.text()) || "(empty log)" : "The log cannot be read (" + response.status + ").";
        target.scrollTop = target.scrollHeight;
      };
      panel.addEventListener("toggle", load);
      load();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(follow);
    followLogs(document);
  });
})();

// Forms that act through the API (`data-api="METHOD /url"`): the fields become the JSON body (or the
// query string of a DELETE), the session and the CSRF token authenticate, and the API's refusal is
// shown next to the field it names. `data-then` says what follows a success: `reload`, `show`
// (fill `[data-result]` with the answer) or a URL where `{id}` is the answer's ID.
(function () {
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function fieldValue(control) {
    const type = control.dataset.type || "string";
    if (control.type === "checkbox") {
      return type === "bool" ? control.checked : control.checked ? control.value : undefined;
    }
    if (control.multiple) return Array.from(control.selectedOptions).map((o) => o.value);
    const raw = control.value;
    if (type === "list") return raw.split(/[\s,]+/).filter(Boolean);
    if (raw === "") return control.dataset.empty === "null" ? null : undefined;
    if (type === "int") return Number.isInteger(Number(raw)) ? Number(raw) : raw;
    if (type === "float") return Number.isFinite(Number(raw)) ? Number(raw) : raw;
    if (type === "bool") return raw === "true";
    if (type === "json") {
      try { return JSON.parse(raw); } catch (error) { throw { field: control.name, message: "Enter valid JSON: " + error.message }; }
    }
    return raw;
  }
  function collect(form) {
    const body = {};
    form.querySelectorAll("[name]").forEach(function (control) {
      if (control.disabled || !control.name || control.type === "submit" || control.closest("form") !== form) return;
      if (control.type === "radio" && !control.checked) return;
      const value = fieldValue(control);
      if (value === undefined) return;
      // `outer[inner]` is key `inner` of the object `outer` (keys may hold dots).
      const nested = control.name.match(/^([^[]+)\[(.+)\]$/);
      if (nested) {
        body[nested[1]] = body[nested[1]] || {};
        body[nested[1]][nested[2]] = value;
      } else {
        body[control.name] = value;
      }
    });
    return body;
  }
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
    const general = form.querySelector(".form-errors");
    if (general) general.textContent = "";
  }
  function messagesOf(value) {
    if (value === null || value === undefined) return [];
    if (Array.isArray(value)) return value.flatMap(messagesOf);
    if (typeof value === "object") return Object.entries(value).flatMap(([k, v]) => messagesOf(v).map((m) => k + ": " + m));
    return [String(value)];
  }
  function showErrors(form, errors, prefix) {
    const general = form.querySelector(".form-errors");
    const add = function (text) { if (general) general.textContent += (general.textContent ? "\n" : "") + text; };
    if (typeof errors !== "object" || errors === null || Array.isArray(errors)) return messagesOf(errors).forEach(add);
    Object.entries(errors).forEach(function ([key, value]) {
      const name = prefix ? prefix + "[" + key + "]" : key;
      // `["threshold: Must be a number."]` on `configuration` belongs to `configuration[threshold]`.
      if (Array.isArray(value)) {
        value = value.filter(function (message) {
          const keyed = typeof message === "string" && message.match(/^([^:\s]+): (.+)$/);
          const inner = keyed && form.querySelector('.field-error[data-for="' + CSS.escape(name + "[" + keyed[1] + "]") + '"]');
          if (!inner) return true;
          inner.textContent = keyed[2];
          const control = form.querySelector('[name="' + CSS.escape(name + "[" + keyed[1] + "]") + '"]');
          if (control) control.classList.add("invalid");
          return false;
        });
        if (!value.length) return;
      }
      const slot = form.querySelector('.field-error[data-for="' + CSS.escape(name) + '"]');
      if (slot) {
        slot.textContent = messagesOf(value).join(" ");
        const control = form.querySelector('[name="' + CSS.escape(name) + '"]');
        if (control) control.classList.add("invalid");
      } else if (value && typeof value === "object" && !Array.isArray(value) && form.querySelector('[name^="' + CSS.escape(name) + '["]')) {
        showErrors(form, value, name);
      } else if (key === "detail" || key === "non_field_errors") {
        messagesOf(value).forEach(add);
      } else {
        messagesOf(value).forEach((m) => add(name + ": " + m));
      }
    });
  }
  function fill(form, answer) {
    const result = form.querySelector("[data-result]") || document.getElementById(form.dataset.resultTarget || "");
    if (!result) return;
    result.querySelectorAll("[data-field]").forEach(function (slot) {
      const value = answer ? answer[slot.dataset.field] : undefined;
      slot.textContent = value === undefined || value === null ? "" : value;
    });
    result.hidden = false;
  }
  async function submit(event) {
    const form = event.currentTarget;
    event.preventDefault();
    const submitter = event.submitter || form.querySelector("[type=submit]");
    if (submitter && submitter.dataset.confirm && !window.confirm(submitter.dataset.confirm)) return;
    clearErrors(form);
    const success = form.querySelector(".form-success");
    if (success) success.textContent = "";
    let body;
    try { body = collect(form); } catch (problem) { return showErrors(form, { [problem.field]: [problem.message] }); }
    if (submitter && submitter.name) body[submitter.name] = submitter.value;
    const [method, url] = (submitter && submitter.dataset.api ? submitter.dataset.api : form.dataset.api).split(" ");
    const then = (submitter && submitter.dataset.then) || form.dataset.then || "reload";
    const options = { method: method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } };
    // `{field}` in the URL is that field's value (for example the corpus a process is created on).
    let target = url.replace(/\{(\w+)\}/g, function (_, key) {
      const value = body[key];
      delete body[key];
      return encodeURIComponent(value === undefined || value === null ? "" : value);
    });
    if (method === "GET" || method === "DELETE") {
      const query = new URLSearchParams(target.includes("?") ? target.split("?")[1] : "");
      Object.entries(body).forEach(([k, v]) => query.set(k, v === null ? "false" : v));
      target = target.split("?")[0] + (query.toString() ? "?" + query.toString() : "");
    } else {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (submitter) submitter.disabled = true;
    form.classList.add("busy");
    try {
      const response = await fetch(target, options);
      const text = await response.text();
      let answer = null;
      try { answer = text ? JSON.parse(text) : null; } catch (error) { answer = text; }
      if (!response.ok) {
        showErrors(form, answer && typeof answer === "object" ? answer : { detail: "The server answered " + response.status + "." });
        return;
      }
      form.dispatchEvent(new CustomEvent("api:done", { detail: { answer: answer, submitter: submitter }, bubbles: true }));
      if (then === "reload") return window.location.reload();
      if (then === "show") return fill(form, answer);
      if (then.startsWith("message:")) {
        if (success) success.textContent = then.slice(8).replace(/\{(\w+)\}/g, (_, key) => (answer || {})[key]);
        return;
      }
      window.location.href = then.replace(/\{(\w+)\}/g, (_, key) => (answer || {})[key]);
    } catch (error) {
      showErrors(form, { detail: "The server cannot be reached: " + error.message });
    } finally {
      if (submitter) submitter.disabled = false;
      form.classList.remove("busy");
    }
  }
  // Options of a select that only apply to one choice of another (`data-depends="<name>"` on the
  // select, `data-when="<value>"` on each option): the others are hidden.
  function dependents(root) {
    root.querySelectorAll("select[data-depends]").forEach(function (select) {
      const form = select.form;
      const source = form && form.querySelector('[name="' + select.dataset.depends + '"]');
      if (!source) return;
      const update = function () {
        const chosen = source.selectedOptions[0];
        const key = chosen ? chosen.dataset.key || chosen.value : "";
        select.querySelectorAll("option[data-when]").forEach(function (option) {
          option.hidden = option.dataset.when.split(" ").indexOf(key) === -1;
          if (option.hidden && option.selected) select.value = "";
        });
      };
      source.addEventListener("change", update);
      update();
    });
  }
  // A destructive form (`data-dry-run-first`) commits only what its last dry run counted: any change
  // of a field asks for a new dry run.
  function dryRunFirst(form) {
    const commit = form.querySelector('[data-role="commit"]');
    const result = form.querySelector("[data-result]");
    const reset = function () {
      commit.disabled = true;
      if (result) result.hidden = true;
    };
    form.addEventListener("input", reset);
    form.addEventListener("change", reset);
    form.addEventListener("api:done", function (event) {
      const role = event.detail.submitter && event.detail.submitter.dataset.role;
      // Re-enabled once the submit handler has released the button.
      setTimeout(function () { commit.disabled = role !== "dry-run"; }, 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-api]").forEach((form) => form.addEventListener("submit", submit));
    document.querySelectorAll("form[data-dry-run-first]").forEach(dryRunFirst);
    dependents(document);
  });
})();
