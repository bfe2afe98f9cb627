"""Label hierarchy over the C classes, for level and category metrics.

Every class has a path of names from a top-level category down to itself,
e.g. `Sports:Water:Swimming`; its level is the path length minus 1. The
hierarchy's nodes are all path prefixes; a node that is not itself a class
(e.g. a `Vertical1` category of the official vocabulary) is *virtual*: its
score and label are the max over the classes below it (see docs/metrics.md).

One module reads and writes these formats (the data generator writes
through `to_taxonomy_csv` / `to_vocabulary_csv`).

Sources:
* the official `vocabulary.csv` (`Index,TrainVideoCount,KnowledgeGraphId,
  Name,WikiUrl,Vertical1,...`): path = `(Vertical1, Name)`, so every entity
  is at level 1 under its `Vertical1` category (level 0, virtual); a class
  whose Name equals its Vertical1 is that category, at level 0 (the 2018
  vocabulary has none);
* a taxonomy CSV with header `Index,Name,Path`, Path the colon-separated
  path of the class itself (`Sports` for a top class, any depth);
* a flat names file (`label_id,label_name` or `Index,Name`): one level.
"""

import csv
import io

import numpy as np

_VOCAB_COLUMNS = ("Index", "Name", "Vertical1")
# The official vocabulary.csv header, in its order.
VOCABULARY_HEADER = (
    "Index", "TrainVideoCount", "KnowledgeGraphId", "Name", "WikiUrl",
    "Vertical1", "Vertical2", "Vertical3", "WikiDescription",
)
TAXONOMY_HEADER = ("Index", "Name", "Path")
_UNMAPPED = "(unmapped)"


class Taxonomy:
    """A label hierarchy: one path of names per class index.

    Args:
      paths: list of C tuples of str, the path of each class (last element
        is the class's own node name).
      class_names: list of C display names (default: last path element).

    Attributes:
      num_classes, num_levels, class_names, class_paths,
      level_of_class ([C] int), top_categories (sorted names),
      top_category_of_class ([C] object array of names),
      top_category_id_of_class ([C] int index into top_categories).

    Example:
      >>> t = Taxonomy.from_paths(["Sports", "Sports:Water:Swimming"])
      >>> t.level_of_class.tolist(), t.num_levels
      ([0, 2], 3)
    """

    def __init__(self, paths, class_names=None):
        paths = [tuple(p) for p in paths]
        if not paths:
            raise ValueError("Invalid value for argument `paths`: empty.")
        for i, path in enumerate(paths):
            if not path or any(not part for part in path):
                raise ValueError(
                    f"Invalid path for class {i}: {':'.join(path)!r} "
                    "(empty component)."
                )
        seen = {}
        for i, path in enumerate(paths):
            if path in seen:  # two classes on one node: keep them apart
                path = path[:-1] + (f"{path[-1]}#{i}",)
                paths[i] = path
            seen[path] = i
        self.class_paths = paths
        self.num_classes = len(paths)
        if class_names is None:
            class_names = [p[-1] for p in paths]
        self.class_names = list(class_names)
        self.level_of_class = np.array([len(p) - 1 for p in paths], int)
        self.num_levels = int(self.level_of_class.max()) + 1
        self.top_categories = sorted({p[0] for p in paths})
        index = {name: i for i, name in enumerate(self.top_categories)}
        self.top_category_of_class = np.array([p[0] for p in paths], object)
        self.top_category_id_of_class = np.array(
            [index[p[0]] for p in paths], int
        )
        self._class_of_node = {p: i for i, p in enumerate(paths)}

    @classmethod
    def from_paths(cls, paths, class_names=None, separator=":"):
        """Builds from strings such as `Sports:Water:Swimming`."""
        split = [
            tuple(s.strip() for s in str(p).split(separator)) for p in paths
        ]
        return cls(split, class_names)

    @classmethod
    def from_vocabulary_csv(cls, path):
        """Builds from the official `vocabulary.csv` (Vertical1 -> entity)."""
        rows = _read_rows(path)
        if rows and not all(c in rows[0] for c in _VOCAB_COLUMNS):
            raise ValueError(
                f"{path}: expected the columns {_VOCAB_COLUMNS} of the "
                f"official vocabulary.csv. Received: {list(rows[0])}"
            )
        entries = {}
        for row in rows:
            index = int(row["Index"])
            name = row["Name"].strip() or (
                row.get("KnowledgeGraphId", "").strip() or f"class_{index}"
            )
            category = row["Vertical1"].strip() or "(Unknown)"
            path_ = (category,) if name == category else (category, name)
            entries[index] = (path_, name)
        return cls._from_entries(entries)

    @classmethod
    def from_taxonomy_csv(cls, path):
        """Builds from a CSV with header `Index,Name,Path`."""
        rows = _read_rows(path)
        if rows and not all(c in rows[0] for c in ("Index", "Name", "Path")):
            raise ValueError(
                f"{path}: expected the header Index,Name,Path. "
                f"Received: {list(rows[0])}"
            )
        entries = {}
        for row in rows:
            parts = tuple(s.strip() for s in row["Path"].split(":"))
            entries[int(row["Index"])] = (parts, row["Name"].strip())
        return cls._from_entries(entries)

    @classmethod
    def load(cls, path):
        """Reads any supported CSV, detecting the format by its header."""
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        if "Vertical1" in header:
            return cls.from_vocabulary_csv(path)
        if "Path" in header:
            return cls.from_taxonomy_csv(path)
        for index_col, name_col in (("label_id", "label_name"),
                                    ("Index", "Name")):
            if index_col in header and name_col in header:
                entries = {}
                for row in _read_rows(path):
                    name = row[name_col].strip() or f"class_{row[index_col]}"
                    entries[int(row[index_col])] = ((name,), name)
                return cls._from_entries(entries)
        raise ValueError(
            f"{path}: unrecognised header {header}; expected vocabulary.csv "
            "(Vertical1), a taxonomy CSV (Index,Name,Path) or a names file "
            "(label_id,label_name / Index,Name)."
        )

    @classmethod
    def _from_entries(cls, entries):
        num_classes = max(entries) + 1
        paths, names = [], []
        for i in range(num_classes):
            path_, name = entries.get(i, ((_UNMAPPED, f"class_{i}"), None))
            paths.append(path_)
            names.append(name or path_[-1])
        return cls(paths, names)

    # ------------------------------------------------------------ writing

    def to_taxonomy_csv(self):
        """`Index,Name,Path` text (what `from_taxonomy_csv` reads)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(TAXONOMY_HEADER)
        for i, path in enumerate(self.class_paths):
            writer.writerow([i, self.class_names[i], ":".join(path)])
        return buf.getvalue()

    def to_vocabulary_csv(self, train_counts, knowledge_graph_ids=None,
                          descriptions=None):
        """The official `vocabulary.csv` layout (what `load` reads).

        `Vertical1` is each class's top-level category; `Vertical2` and
        `Vertical3` stay empty. `knowledge_graph_ids` and `descriptions`
        default to made-up `/m/syn<index>` ids and empty text.
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(VOCABULARY_HEADER)
        for i, path in enumerate(self.class_paths):
            name = self.class_names[i]
            writer.writerow([
                i,
                int(train_counts[i]),
                knowledge_graph_ids[i] if knowledge_graph_ids
                else f"/m/syn{i:05d}",
                name,
                "https://en.wikipedia.org/wiki/" + name.replace(" ", "_"),
                path[0],
                "",
                "",
                descriptions[i] if descriptions else "",
            ])
        return buf.getvalue()

    def path_name(self, node):
        return ":".join(node)

    def level_nodes(self, level):
        """Nodes at `level`: list of (node path, class index or None)."""
        nodes = sorted({p[: level + 1] for p in self.class_paths
                        if len(p) > level})
        return [(n, self._class_of_node.get(n)) for n in nodes]

    def descendants(self, node):
        """Class indices whose path starts with `node` (node included)."""
        depth = len(node)
        return np.array(
            [i for i, p in enumerate(self.class_paths) if p[:depth] == node],
            dtype=np.int64,
        )


def _read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
