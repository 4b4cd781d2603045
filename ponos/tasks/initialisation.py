"""
The initialisation task of a `workers` process, run by an agent like any task (console script
`arkindex-process-init`): it lists the process's elements through the API with its own task token
(ListProcessElements) and writes them, split into the process's chunks, as `elements.json` (one
chunk) or `elements_<chunk>.json` in its folder. The agent keeps them as artifacts, and each worker
task finds its file under `PONOS_DATA/<initialisation task id>/` (its `TASK_ELEMENTS`).

Only the standard library: the command runs wherever an agent runs, server package or not.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

PAGE_SIZE = 500


def api_get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Ponos {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def list_elements(api_url, token, process_id):
    url = f"{api_url}/api/v1/process/{process_id}/elements/?page_size={PAGE_SIZE}"
    while url:
        page = api_get(url, token)
        for element in page["results"]:
            yield {"id": element["id"], "type": element.get("type") or element.get("type_id")}
        url = page.get("next")


def split(elements, chunks):
    """Elements dealt round-robin into `chunks` lists, so that chunks differ by one element at most."""
    parts = [[] for _ in range(chunks)]
    for index, element in enumerate(elements):
        parts[index % chunks].append(element)
    return parts


def main():
    try:
        api_url = os.environ["ARKINDEX_API_URL"].rstrip("/")
        token = os.environ["ARKINDEX_TASK_TOKEN"]
        process_id = os.environ["ARKINDEX_PROCESS_ID"]
        data = Path(os.environ["PONOS_DATA"])
    except KeyError as error:
        print(f"Missing environment variable {error.args[0]}: this command runs as a Ponos task.", file=sys.stderr)
        return 2
    output = data / "current"
    try:
        process = api_get(f"{api_url}/api/v1/process/{process_id}/", token)
        elements = list(list_elements(api_url, token, process_id))
    except urllib.error.HTTPError as error:
        print(f"The API answered {error.code} to {error.url}: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    chunks = max(int(process.get("chunks") or 1), 1)
    if not elements:
        print("The process has no elements: nothing to do for its workers.", file=sys.stderr)
        return 1
    if chunks == 1:
        files = {"elements.json": elements}
    else:
        files = {f"elements_{number}.json": part for number, part in enumerate(split(elements, chunks), start=1)}
    for name, part in files.items():
        (output / name).write_text(json.dumps(part))
        print(f"{name}: {len(part)} element(s)")
    print(f"{len(elements)} element(s) in {len(files)} file(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
