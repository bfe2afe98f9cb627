"""The synthetic label hierarchy: top-level groups, mid-level classes, leaves.

Every node of the tree is a class. Its `Path` is the colon-separated chain
of names from its top-level group down to itself (`Sports`,
`Sports:Water`, `Sports:Water:Swimming`), the layout `taxonomy.csv` uses.
"""

import dataclasses

# Curated names for the first groups; larger taxonomies fall back to
# generated names ("Group 7", "Group 7 Sub 2", "Water 9").
_CURATED = (
    ("Sports", (
        ("Water", ("Swimming", "Surfing", "Diving", "Rowing", "Sailing",
                   "Water Polo", "Kitesurfing", "Snorkeling")),
        ("Ball Games", ("Soccer", "Basketball", "Tennis", "Volleyball",
                        "Baseball", "Golf", "Rugby", "Cricket")),
        ("Winter", ("Skiing", "Snowboarding", "Ice Hockey", "Figure Skating",
                    "Curling", "Biathlon", "Bobsleigh", "Ski Jumping")),
    )),
    ("Music", (
        ("Instruments", ("Guitar", "Piano", "Drums", "Violin", "Saxophone",
                         "Cello", "Trumpet", "Harp")),
        ("Genres", ("Rock", "Jazz", "Hip Hop", "Classical", "Country",
                    "Electronic", "Reggae", "Blues")),
        ("Performance", ("Concert", "Choir", "Busking", "Orchestra",
                         "Karaoke", "Opera", "Marching Band", "Recital")),
    )),
    ("Vehicles", (
        ("Cars", ("Sedan", "Sports Car", "Pickup Truck", "Race Car",
                  "Off-road Vehicle", "Taxi", "Convertible", "Minivan")),
        ("Aircraft", ("Airliner", "Helicopter", "Glider", "Drone",
                      "Fighter Jet", "Hot Air Balloon", "Seaplane",
                      "Blimp")),
        ("Boats", ("Yacht", "Canoe", "Ferry", "Speedboat", "Submarine",
                   "Kayak", "Tugboat", "Gondola")),
    )),
    ("Food", (
        ("Baking", ("Bread", "Cake", "Cookie", "Pie", "Pastry", "Pizza",
                    "Muffin", "Croissant")),
        ("Cooking", ("Grilling", "Frying", "Stew", "Stir Fry", "Soup",
                     "Roasting", "Steaming", "Barbecue")),
        ("Drinks", ("Coffee", "Tea", "Cocktail", "Smoothie", "Beer", "Wine",
                    "Lemonade", "Milkshake")),
    )),
    ("Games", (
        ("Video Games", ("Minecraft", "Racing Game", "Shooter", "Platformer",
                         "Strategy Game", "Puzzle Game", "Sports Game",
                         "Role-playing Game")),
        ("Board Games", ("Chess", "Go", "Checkers", "Backgammon", "Monopoly",
                         "Scrabble", "Mahjong", "Dominoes")),
        ("Card Games", ("Poker", "Solitaire", "Bridge", "Blackjack",
                        "Trading Cards", "Uno", "Rummy", "Magic Tricks")),
    )),
    ("Animals", (
        ("Pets", ("Dog", "Cat", "Hamster", "Rabbit", "Parrot", "Goldfish",
                  "Guinea Pig", "Turtle")),
        ("Wildlife", ("Lion", "Elephant", "Bear", "Wolf", "Deer", "Monkey",
                      "Giraffe", "Zebra")),
        ("Birds", ("Eagle", "Owl", "Penguin", "Flamingo", "Hummingbird",
                   "Swan", "Pigeon", "Peacock")),
    )),
)


@dataclasses.dataclass(frozen=True)
class Node:
    """One class of the hierarchy."""

    index: int
    name: str
    level: int  # 0 = top-level group, 1 = mid, 2 = leaf
    parent: int  # -1 for a top-level group
    group: int  # index of the top-level ancestor (itself at level 0)
    path: str


class Hierarchy:
    """A 3-level class tree with `num_classes` nodes (all of them classes)."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.by_name = {n.name: n for n in self.nodes}
        if len(self.by_name) != len(self.nodes):
            raise ValueError("class names must be unique")

    @classmethod
    def build(cls, num_classes, num_groups=4, mids_per_group=2):
        """Top groups, `mids_per_group` mids each, leaves spread round-robin.

        Nodes are numbered in depth-first pre-order. Needs at least
        one leaf per mid, i.e. `num_classes >= num_groups * (1 + 2 * mids)`.
        """
        structural = num_groups * (1 + mids_per_group)
        min_classes = num_groups * (1 + 2 * mids_per_group)
        if num_groups < 2:
            raise ValueError("need at least 2 top-level groups")
        if num_classes < min_classes:
            raise ValueError(
                f"num_classes={num_classes} is too small for {num_groups} "
                f"groups x {mids_per_group} mids (need >= {min_classes})"
            )
        num_leaves = num_classes - structural
        slots = num_groups * mids_per_group
        leaves_per_slot = [
            num_leaves // slots + (1 if s < num_leaves % slots else 0)
            for s in range(slots)
        ]
        nodes = []
        for g in range(num_groups):
            if g < len(_CURATED):
                group_name, mids = _CURATED[g]
            else:
                group_name, mids = f"Group {g + 1}", ()
            top = len(nodes)
            nodes.append(Node(top, group_name, 0, -1, top, group_name))
            for m in range(mids_per_group):
                if m < len(mids):
                    mid_name, leaf_names = mids[m]
                else:
                    mid_name, leaf_names = f"{group_name} Sub {m + 1}", ()
                mid = len(nodes)
                mid_path = f"{group_name}:{mid_name}"
                nodes.append(Node(mid, mid_name, 1, top, top, mid_path))
                for j in range(leaves_per_slot[g * mids_per_group + m]):
                    if j < len(leaf_names):
                        leaf_name = leaf_names[j]
                    else:
                        leaf_name = f"{mid_name} {j + 1}"
                    leaf = len(nodes)
                    nodes.append(Node(leaf, leaf_name, 2, mid, top,
                                      f"{mid_path}:{leaf_name}"))
        return cls(nodes)

    @property
    def num_classes(self):
        return len(self.nodes)

    @property
    def leaves(self):
        return [n.index for n in self.nodes if n.level == 2]

    @property
    def groups(self):
        return [n.index for n in self.nodes if n.level == 0]

    def ancestors_and_self(self, index):
        out = []
        while index >= 0:
            out.append(index)
            index = self.nodes[index].parent
        return out

    def children(self, index):
        return [n.index for n in self.nodes if n.parent == index]

    def to_taxonomy(self):
        """The `yt8m.taxonomy.Taxonomy` of this tree (class index order)."""
        from yt8m.taxonomy import Taxonomy

        return Taxonomy.from_paths([n.path for n in self.nodes],
                                   [n.name for n in self.nodes])

    def taxonomy_csv(self):
        """`Index,Name,Path` rows, the format `yt8m.metrics` reads."""
        return self.to_taxonomy().to_taxonomy_csv()

    def vocabulary_csv(self, train_counts):
        """The official `vocabulary.csv` column layout.

        `Vertical1` is the top-level group; `Vertical2`/`Vertical3` (other
        verticals in the official file) stay empty; `KnowledgeGraphId` is a
        made-up `/m/syn...` id.
        """
        return self.to_taxonomy().to_vocabulary_csv(
            train_counts,
            descriptions=[f"Synthetic class '{n.path}' (level {n.level})."
                          for n in self.nodes],
        )
