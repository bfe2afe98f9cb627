"""yt8m.taxonomy reads what it writes (the one module for the formats)."""

import numpy as np

from yt8m.data.taxonomy import Hierarchy
from yt8m.taxonomy import Taxonomy


def test_taxonomy_csv_round_trip(tmp_path):
    tree = Hierarchy.build(30)
    path = tmp_path / "taxonomy.csv"
    path.write_text(tree.taxonomy_csv())
    loaded = Taxonomy.load(str(path))
    assert loaded.class_paths == [tuple(n.path.split(":"))
                                  for n in tree.nodes]
    assert loaded.class_names == [n.name for n in tree.nodes]
    assert loaded.num_levels == 3


def test_vocabulary_csv_round_trip_by_vertical1(tmp_path):
    tree = Hierarchy.build(30)
    path = tmp_path / "vocabulary.csv"
    path.write_text(tree.vocabulary_csv(np.arange(30)))
    loaded = Taxonomy.load(str(path))
    for node, class_path in zip(tree.nodes, loaded.class_paths):
        top = node.path.split(":")[0]
        expected = (top,) if node.name == top else (top, node.name)
        assert class_path == expected
