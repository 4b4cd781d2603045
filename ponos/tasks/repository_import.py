"""
The task of a repository process, run by an agent like any task (console script
`arkindex-repository-import`): it asks the API, with its own task token, what to import
(RetrieveRepositoryImport), clones that revision with `git`, and sends the `.arkindex.yml` of the
commit back (ImportRepositoryWorkerVersions). The server checks the file and creates the worker
versions; this command prints what it answered. Exit code 0 when the import is done (or when a
version 3 file makes the server stop the process), 1 when it failed, 2 when not run as a task.

Credentials of an HTTP(S) repository reach `git` through `GIT_ASKPASS`: a small script that prints
them from `git`'s own environment when `git` asks. They are never on a command line (which other
users of the host may list), never in a URL, never printed, and credential helpers are turned off
so that `git` stores them nowhere. The clone lives in a temporary folder outside the task's own
folder (whose files would become artifacts) and is removed at the end.

Only the standard library and the `git` command: it runs wherever an agent runs, server package
or not.
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ARKINDEX_YML = ".arkindex.yml"
# What a worker version holds of a branch or tag name: longer ones are left out.
BRANCH_MAX_LENGTH = 100
TAG_MAX_LENGTH = 50
ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
    Username*) printf '%s\\n' "$ARKINDEX_GIT_USERNAME" ;;
    *) printf '%s\\n' "$ARKINDEX_GIT_PASSWORD" ;;
esac
"""


class ImportFailure(Exception):
    """The import cannot go on; the message says why, for the task's log."""


def api_request(url, token, body=None):
    """`(status, JSON body)` of a GET (or a POST of `body`) with the task token; errors included."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Ponos {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        content = error.read().decode(errors="replace")
        try:
            return error.code, json.loads(content)
        except ValueError:
            return error.code, content


def git_environment(url, credentials, askpass):
    """
    The environment of `git`: the task's, without its API credentials, never prompting, and with
    the repository's credentials for the askpass script when it has some and is cloned over HTTP(S).
    """
    env = {key: value for key, value in os.environ.items() if key not in ("ARKINDEX_TASK_TOKEN", "ARKINDEX_API_TOKEN")}
    http = urlsplit(url).scheme in ("http", "https")
    # Only the protocols of the repository's URL: nothing the repository says may make git use another.
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ALLOW_PROTOCOL": "http:https" if http else "file"})
    if credentials and http:
        env.update(
            {
                "GIT_ASKPASS": str(askpass),
                "ARKINDEX_GIT_USERNAME": credentials["username"],
                "ARKINDEX_GIT_PASSWORD": credentials["password"],
            }
        )
    return env


def git(*arguments, cwd=None, env=None, check=True):
    """The output of a `git` command; `ImportFailure` with its error output when it fails."""
    # No credential helper: credentials given for this clone are stored nowhere.
    command = ["git", "-c", "credential.helper=", *arguments]
    try:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as error:
        raise ImportFailure(f"git could not run: {error.strerror}. The import task needs git.") from error
    if check and result.returncode != 0:
        raise ImportFailure(f"git {arguments[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip() if result.returncode == 0 else None


def commit_of(reference, repository, env):
    return git("rev-parse", "--verify", "--quiet", f"{reference}^{{commit}}", cwd=repository, env=env, check=False)


def resolve_revision(revision, repository, env):
    """`(commit hash, branch, tag)` of a branch, a tag or a commit (the default branch when empty)."""
    branch = tag = None
    if not revision:
        head = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", cwd=repository, env=env, check=False)
        if not head:
            raise ImportFailure("The repository has no default branch: import a branch, a tag or a commit.")
        branch = head.removeprefix("refs/remotes/origin/")
        commit = commit_of(head, repository, env)
    elif commit := commit_of(f"refs/remotes/origin/{revision}", repository, env):
        branch = revision
    elif commit := commit_of(f"refs/tags/{revision}", repository, env):
        tag = revision
    else:
        commit = commit_of(revision, repository, env)
    if not commit:
        raise ImportFailure(f"The repository has no branch, tag or commit {revision!r}.")
    if tag is None:
        tags = git("tag", "--points-at", commit, cwd=repository, env=env)
        tag = next((name for name in sorted(tags.split()) if len(name) <= TAG_MAX_LENGTH), None)
    if branch is not None and len(branch) > BRANCH_MAX_LENGTH:
        branch = None
    if tag is not None and len(tag) > TAG_MAX_LENGTH:
        tag = None
    return commit, branch, tag


def read_revision(url, revision, credentials):
    """Clone the repository and read its `.arkindex.yml`: `(text, commit, branch, tag)`."""
    with tempfile.TemporaryDirectory(prefix="arkindex-repository-") as folder:
        askpass = Path(folder) / "askpass.sh"
        askpass.write_text(ASKPASS_SCRIPT)
        askpass.chmod(stat.S_IRWXU)
        env = git_environment(url, credentials, askpass)
        clone = Path(folder) / "repository"
        git("clone", "--quiet", "--no-checkout", "--", url, str(clone), env=env)
        commit, branch, tag = resolve_revision(revision, clone, env)
        print(f"Commit {commit}" + (f" on branch {branch}" if branch else "") + (f", tag {tag}" if tag else ""))
        try:
            text = git("show", f"{commit}:{ARKINDEX_YML}", cwd=clone, env=env)
        except ImportFailure:
            raise ImportFailure(
                f"There is no {ARKINDEX_YML} at the root of the repository in this commit: "
                "nothing declares workers to import."
            ) from None
    return text, commit, branch, tag


def print_result(status, body):
    """Print what the server answered to the import; returns the exit code."""
    if status in (200, 201) and isinstance(body, dict):
        print(body.get("detail", ""))
        for item in body.get("worker_versions", []):
            version = item["worker_version"]
            state = "new" if item["created"] else "already imported"
            print(f"  {version['worker']['slug']}: version {version['version']} ({state}) {version['id']}")
        return 0
    if status == 400 and isinstance(body, dict) and "yaml" in body:
        print(f"The {ARKINDEX_YML} is invalid:")
        for error in body["yaml"]:
            print(f"  {error}")
        return 1
    print(f"The API refused the import ({status}): {json.dumps(body) if isinstance(body, dict) else body}")
    return 1


def main():
    try:
        api_url = os.environ["ARKINDEX_API_URL"].rstrip("/")
        token = os.environ["ARKINDEX_TASK_TOKEN"]
        process_id = os.environ["ARKINDEX_PROCESS_ID"]
    except KeyError as error:
        print(f"Missing environment variable {error.args[0]}: this command runs as a Ponos task.", file=sys.stderr)
        return 2
    endpoint = f"{api_url}/api/v1/process/{process_id}/repository-import/"
    status, details = api_request(endpoint, token)
    if status != 200:
        print(f"The API did not say what to import ({status}): {details}", file=sys.stderr)
        return 1
    url, revision = details["url"], details["revision"]
    print(f"Importing {url} @ {revision or 'its default branch'}", flush=True)
    try:
        text, commit, branch, tag = read_revision(url, revision, details.get("credentials"))
    except ImportFailure as failure:
        print(failure, file=sys.stderr)
        return 1
    body = {"yaml": text, "commit_hash": commit, "branch": branch, "tag": tag}
    return print_result(*api_request(endpoint, token, body))


if __name__ == "__main__":
    sys.exit(main())
