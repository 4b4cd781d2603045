"""
What the task of a file import (`ponos.tasks.file_import`) reads in a data file: URL lists as text or
JSON, and IIIF Presentation 2 and 3 manifests.
"""

import json

import pytest

from ponos.tasks.file_import import ImportFailure, identifier_name, parse_data_file

BASE = "https://iiif.example.com/iiif/2"


def test_text_list():
    content = f"""
# Volume 1
{BASE}/folder%2Fpage1.jpg
{BASE}/page2.jpg/info.json   Page two, recto
\t{BASE}/page3.jpg\tPage 3
""".encode()
    assert parse_data_file(content) == (
        None,
        [
            (f"{BASE}/folder%2Fpage1.jpg", "folder/page1.jpg"),
            (f"{BASE}/page2.jpg/info.json", "Page two, recto"),
            (f"{BASE}/page3.jpg", "Page 3"),
        ],
    )


def test_json_list():
    content = json.dumps([f"{BASE}/a.jpg", {"url": f"{BASE}/b.jpg", "name": "B"}, {"url": f"{BASE}/c.jpg"}])
    assert parse_data_file(content.encode()) == (
        None,
        [(f"{BASE}/a.jpg", "a.jpg"), (f"{BASE}/b.jpg", "B"), (f"{BASE}/c.jpg", "c.jpg")],
    )


def test_manifest_v2():
    manifest = {
        "@context": "http://iiif.io/api/presentation/2/context.json",
        "label": "Register 12",
        "sequences": [
            {
                "canvases": [
                    {
                        "label": "f. 1r",
                        "images": [
                            {
                                "resource": {
                                    "@id": f"{BASE}/a.jpg/full/full/0/default.jpg",
                                    "service": {"@id": f"{BASE}/a.jpg"},
                                }
                            }
                        ],
                    },
                    {"images": [{"resource": {"service": [{"@id": f"{BASE}/b.jpg"}]}}]},
                ]
            }
        ],
    }
    assert parse_data_file(json.dumps(manifest).encode()) == (
        "Register 12",
        [(f"{BASE}/a.jpg", "f. 1r"), (f"{BASE}/b.jpg", "2")],
    )


def test_manifest_v3():
    def canvas(label, service):
        body = {"id": f"{service}/full/max/0/default.jpg", "type": "Image", "service": [{"id": service}]}
        return {"label": label, "items": [{"items": [{"motivation": "painting", "body": body}]}]}

    manifest = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "label": {"en": ["Register 13"]},
        "items": [canvas({"none": ["1r"]}, f"{BASE}/a.jpg"), canvas(None, f"{BASE}/b.jpg")],
    }
    assert parse_data_file(json.dumps(manifest).encode()) == (
        "Register 13",
        [(f"{BASE}/a.jpg", "1r"), (f"{BASE}/b.jpg", "2")],
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[not json", "not valid JSON"),
        (b"[1]", "neither a URL nor an object"),
        (json.dumps({"items": [{"label": "empty"}]}).encode(), "Canvas 1 of the manifest has no IIIF image service"),
    ],
)
def test_unreadable(content, message):
    with pytest.raises(ImportFailure, match=message):
        parse_data_file(content)


def test_identifier_name():
    assert identifier_name(f"{BASE}/folder%2Fpage%201.jpg/") == "folder/page 1.jpg"
