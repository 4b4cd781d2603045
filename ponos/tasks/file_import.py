"""
The task of a file import (modes `files` and `iiif`, see `processes.services.file_imports`), run by an agent
like any task (console script `arkindex-file-import`). With its own task token, which acts as the
process's creator, it reads each data file named in its environment (RetrieveDataFile gives a
signed download URL, `s3_url`, to file and IIIF imports alike), downloads it, and for each IIIF
image it lists registers the image (CreateIIIFURL; a 409 names the image already known, which is
used as is) and creates a page on it (CreateElement, the zone covering the whole image).

What a data file may hold:

- text: one IIIF image URL per line (its base URL, or its `info.json`), optionally followed by
  whitespace and the page's name; blank lines and lines starting with `#` are skipped;
- JSON: a list of such URLs, or of `{"url": …, "name": …}` objects; or a IIIF Presentation 2 or 3
  manifest, whose canvases become pages named after their labels (images are found through their
  IIIF image service).

A page without a name is named after the image's identifier (the manifest's canvas position for
a manifest). Pages go into the folder `ARKINDEX_IMPORT_FOLDER_ID`, or, with a folder type
`ARKINDEX_IMPORT_FOLDER_TYPE`, into a folder of that type per data file, named after the file
(or its manifest's label). Running the import again (RetryProcess) completes it instead of
duplicating it: a folder of that type and name at that place is reused, and an image that already
has a page of the page type in its folder gets no second one.

A data file or an image that cannot be imported is reported in the log and the others are
imported anyway; the task then fails (exit code 1), so that the process says something went wrong.
Exit code 2 when not run as a task. Only the standard library: it runs wherever an agent runs.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlencode, urlsplit

PAGE_SIZE = 500
RETRIES = 3
TIMEOUT = 120


class ImportFailure(Exception):
    """Something could not be imported; the message says what and why, for the task's log."""


class Api:
    """The Arkindex API, called with the task's token."""

    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, **query):
        """`(status, JSON body)` of a call; 5xx answers and connection errors are retried."""
        url = f"{self.url}/api/v1/{path}"
        if query:
            url += "?" + urlencode(query)
        return self.call_url(method, url, body)

    def call_url(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Ponos {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(1, RETRIES + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    content = response.read()
                    return response.status, json.loads(content) if content else None
            except urllib.error.HTTPError as error:
                content = error.read().decode(errors="replace")
                if error.code < 500 or attempt == RETRIES:
                    try:
                        return error.code, json.loads(content)
                    except ValueError:
                        return error.code, content
            except (urllib.error.URLError, OSError) as error:
                if attempt == RETRIES:
                    raise ImportFailure(f"The API could not be reached ({method} {url}): {error}") from None
            time.sleep(2**attempt)

    def expect(self, expected, method, path, body=None, **query):
        status, content = self.call(method, path, body, **query)
        if status != expected:
            raise ImportFailure(f"{method} /api/v1/{path} answered {status}: {json.dumps(content)}")
        return content

    def paginate(self, path, **query):
        status, page = self.call("GET", path, page_size=PAGE_SIZE, **query)
        while True:
            if status != 200:
                raise ImportFailure(f"GET /api/v1/{path} answered {status}: {json.dumps(page)}")
            yield from page["results"]
            if not page.get("next"):
                return
            status, page = self.call_url("GET", page["next"])


def download(url):
    """The content at a signed URL (no credentials: the signature is one)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=TIMEOUT) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        raise ImportFailure(f"The data file could not be downloaded: {error}") from None


# Reading data files


def identifier_name(url):
    """The image's identifier, decoded: the default name of its page."""
    return unquote(urlsplit(url).path.rstrip("/").removesuffix("/info.json").rsplit("/", 1)[-1])


def label_text(label):
    """A IIIF label as text: a string, a v2 list of `{"@value"}`, or a v3 language map."""
    if isinstance(label, str):
        return label
    if isinstance(label, list) and label:
        return label_text(label[0])
    if isinstance(label, dict):
        if "@value" in label:
            return str(label["@value"])
        for values in label.values():
            text = label_text(values)
            if text:
                return text
    return None


def service_id(service):
    """The base URL of a IIIF image service (v2 `@id`, v3 `id`), given as an object or a list."""
    for item in service if isinstance(service, list) else [service]:
        if isinstance(item, dict) and (item.get("@id") or item.get("id")):
            return item.get("@id") or item.get("id")
    return None


def first(items):
    return items[0] if isinstance(items, list) and items else None


def canvas_image(canvas):
    """The image service URL of a canvas of a IIIF Presentation 2 or 3 manifest."""
    if "images" in canvas:
        resource = (first(canvas["images"]) or {}).get("resource") or {}
    else:
        annotation = first((first(canvas.get("items")) or {}).get("items")) or {}
        resource = annotation.get("body") or {}
        resource = first(resource) if isinstance(resource, list) else resource
    return service_id(resource.get("service")) if isinstance(resource, dict) else None


def manifest_images(manifest):
    """`(label, [(url, name)])` of a IIIF Presentation 2 (`sequences`) or 3 (`items`) manifest."""
    if "sequences" in manifest:
        canvases = (first(manifest["sequences"]) or {}).get("canvases") or []
    else:
        canvases = manifest.get("items") or []
    images = []
    for position, canvas in enumerate(canvases, start=1):
        url = canvas_image(canvas) if isinstance(canvas, dict) else None
        if not url:
            raise ImportFailure(f"Canvas {position} of the manifest has no IIIF image service.")
        images.append((url, label_text(canvas.get("label")) or str(position)))
    return label_text(manifest.get("label")), images


def list_item(item, position):
    if isinstance(item, str):
        return item.strip(), identifier_name(item.strip())
    if isinstance(item, dict) and isinstance(item.get("url"), str):
        return item["url"].strip(), item.get("name") or identifier_name(item["url"].strip())
    raise ImportFailure(f"Item {position} of the list is neither a URL nor an object with a `url`.")


def parse_data_file(content):
    """`(label or None, [(image URL, page name)])` from a data file's content (see the module's docstring)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailure("The data file is not UTF-8 text: it must list IIIF image URLs.") from None
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except ValueError as error:
            raise ImportFailure(f"The data file is not valid JSON: {error}.") from None
        if isinstance(data, dict):
            return manifest_images(data)
        return None, [list_item(item, position) for position, item in enumerate(data, start=1)]
    images = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url, *name = line.split(None, 1)
        images.append((url, name[0].strip() if name else identifier_name(url)))
    return None, images


# Importing


class Importer:
    def __init__(self, api, *, corpus_id, page_type, folder_id, folder_type):
        self.api = api
        self.corpus_id = corpus_id
        self.page_type = page_type
        self.folder_id = folder_id or None
        self.folder_type = folder_type or None
        self.failures = 0

    def create_element(self, **fields):
        body = {"corpus": self.corpus_id, "polygon": None, "image": None, **fields}
        return self.api.expect(201, "POST", "elements/create/", body, slim_output="true")["id"]

    def folder_for(self, name):
        """The folder receiving a data file's pages: the import's folder, or a folder of the folder type."""
        if self.folder_type is None:
            return self.folder_id
        name = name[:250]
        if self.folder_id:
            candidates = self.api.paginate(f"elements/{self.folder_id}/children/", type=self.folder_type, name=name)
        else:
            candidates = self.api.paginate(
                f"corpus/{self.corpus_id}/elements/", type=self.folder_type, name=name, top_level="true"
            )
        for element in candidates:
            if element["name"] == name:
                print(f"Folder {name} ({element['id']}) exists: pages are added to it.")
                return element["id"]
        folder_id = self.create_element(type=self.folder_type, name=name, parent=self.folder_id)
        print(f"Created folder {name} ({folder_id})")
        return folder_id

    def pages_with_images(self, folder_id):
        """The IDs of the images that already have a page in the folder."""
        if folder_id is None:
            return set()
        children = self.api.paginate(f"elements/{folder_id}/children/", type=self.page_type, with_zone="true")
        return {child["zone"]["image"]["id"] for child in children if child.get("zone")}

    def image(self, url):
        """The checked image at `url`, registered now or before."""
        status, image = self.api.call("POST", "image/iiif/url/", {"url": url, "width": None, "height": None})
        if status == 409 and isinstance(image, dict) and image.get("existing_id"):
            image = self.api.expect(200, "GET", f"image/{image['existing_id']}/")
        elif status != 201:
            raise ImportFailure(f"The image {url} could not be registered ({status}): {json.dumps(image)}")
        if image["status"] != "checked":
            status, checked = self.api.call("PATCH", f"image/{image['id']}/", {"status": "checked"})
            if status != 200:
                raise ImportFailure(f"The image {url} could not be checked ({status}): {json.dumps(checked)}")
            image = checked
        return image

    def fail(self, message):
        self.failures += 1
        print(f"ERROR: {message}", flush=True)

    def import_file(self, file_id):
        data_file = self.api.expect(200, "GET", f"process/files/{file_id}/")
        print(f"Data file {data_file['name']} ({file_id}, {data_file['size']} bytes)", flush=True)
        if not data_file.get("s3_url"):
            raise ImportFailure(f"Data file {file_id} is {data_file['status']}: it has no content to download.")
        label, images = parse_data_file(download(data_file["s3_url"]))
        if not images:
            raise ImportFailure(f"Data file {data_file['name']} lists no image.")
        folder_id = self.folder_for(label or data_file["name"])
        existing = self.pages_with_images(folder_id)
        created = 0
        for url, name in images:
            try:
                image = self.image(url)
                if image["id"] in existing:
                    print(f"  {name}: already imported")
                    continue
                page_id = self.create_element(type=self.page_type, name=name[:250], parent=folder_id, image=image["id"])
            except ImportFailure as failure:
                self.fail(f"{name}: {failure}")
                continue
            existing.add(image["id"])
            created += 1
            print(f"  {name}: page {page_id} on image {image['id']} ({image['width']}×{image['height']})", flush=True)
        print(f"{created} page(s) created from {data_file['name']}", flush=True)

    def run(self, file_ids):
        for file_id in file_ids:
            try:
                self.import_file(file_id)
            except ImportFailure as failure:
                self.fail(str(failure))
        return 1 if self.failures else 0


def main():
    try:
        api = Api(os.environ["ARKINDEX_API_URL"], os.environ["ARKINDEX_TASK_TOKEN"])
        corpus_id = os.environ["ARKINDEX_CORPUS_ID"]
        file_ids = [file_id for file_id in os.environ["ARKINDEX_IMPORT_FILES"].split(",") if file_id]
        page_type = os.environ["ARKINDEX_IMPORT_ELEMENT_TYPE"]
    except KeyError as error:
        print(f"Missing environment variable {error.args[0]}: this command runs as a Ponos task.", file=sys.stderr)
        return 2
    importer = Importer(
        api,
        corpus_id=corpus_id,
        page_type=page_type,
        folder_id=os.environ.get("ARKINDEX_IMPORT_FOLDER_ID"),
        folder_type=os.environ.get("ARKINDEX_IMPORT_FOLDER_TYPE"),
    )
    print(f"Importing {len(file_ids)} data file(s) into pages of type {page_type}", flush=True)
    code = importer.run(file_ids)
    if code:
        print(f"{importer.failures} error(s): see above.", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
