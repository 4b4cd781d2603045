"""Assertions on element trees: an element's paths, and the path invariants of a whole corpus."""

from documents.models import ElementPath


def paths_of(element):
    """An element's paths as a set of tuples of ids, with the position of each."""
    return {(tuple(path), ordering) for path, ordering in element.paths.values_list("path", "ordering")}


def assert_tree_consistent(corpus):
    """
    Check the invariants of `documents.models` on a whole corpus: top-level elements have the
    single path `[]`; the paths of any other element are exactly its parents' paths followed by
    that parent, with one position per parent.
    """
    rows = list(ElementPath.objects.filter(element__corpus=corpus).values_list("element_id", "path", "ordering"))
    paths = {}
    positions = {}
    for element_id, path, ordering in rows:
        paths.setdefault(element_id, set()).add(tuple(path))
        if path:
            positions.setdefault((element_id, path[-1]), set()).add(ordering)
    for element_id, element_paths in paths.items():
        parents = {path[-1] for path in element_paths if path}
        if not parents:
            assert element_paths == {()}, f"{element_id} is top-level but has paths {element_paths}"
            continue
        assert () not in element_paths, f"{element_id} has parents and the top-level path"
        expected = {parent_path + (parent,) for parent in parents for parent_path in paths.get(parent, set())}
        assert element_paths == expected, f"paths of {element_id}: {element_paths} != {expected}"
    for key, orderings in positions.items():
        assert len(orderings) == 1, f"{key} has several positions: {orderings}"
