"""
Every job the code enqueues exists: RQ finds a job by its dotted path only when a worker runs it,
so a renamed or moved job function would otherwise fail in production, not here. The product's
sources are read for each call that enqueues (`enqueue_job`, `enqueue_on_commit`, a queue's
`enqueue`), and each path it names (a string, or a module constant holding one) is imported.
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("arkindex", "users", "documents", "workers", "processes", "ponos", "datasets")
ENQUEUERS = {"enqueue_job", "enqueue_on_commit", "enqueue"}


def product_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                continue
            yield path


def enqueued_paths():
    """(source file, line, dotted path) of every job named by a string where it is enqueued."""
    found = []
    for path in product_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(getattr(node.value, "value", None), str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in ENQUEUERS:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                job = first.value
            elif isinstance(first, ast.Name) and first.id in constants:
                job = constants[first.id]
            else:
                continue  # a function object: imported with its module already
            found.append((str(path.relative_to(ROOT)), node.lineno, job))
    return found


def test_the_scan_finds_the_jobs():
    jobs = {job for _, _, job in enqueued_paths()}
    # The jobs of every kind of durable work, so that a change in how they are enqueued is noticed here.
    assert {
        "documents.jobs.corpus_delete",
        "documents.jobs.element_delete",
        "processes.jobs.process_delete",
        "processes.jobs.worker_results_delete",
        "ponos.agent.execution.run_task",
        "ponos.scheduler.schedule_process",
    } <= jobs


@pytest.mark.parametrize("source, line, job", enqueued_paths(), ids=lambda value: str(value))
def test_enqueued_job_exists(source, line, job):
    module_name, _, function_name = job.rpartition(".")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    assert callable(function), f"{source}:{line} enqueues {job}, which does not exist"
