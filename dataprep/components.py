"""Connected components of a duplicate graph: id -> the smallest id of its component, and size.

Near-duplicate detection yields edges (pairs of document ids); clusters are the connected
components. Up to `max_driver_edges` edges, the driver gathers them and scipy labels the
components (edges only, never documents: ~100 bytes per edge). Above that, the components are
computed on Ray Data with the alternating large-star / small-star algorithm (Kiveris et al.,
"Connected Components in MapReduce and Beyond", SoCC 2014): each step is one group-by over the
edges, O(log^2 n) steps, and no process holds more than one node's neighbours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EDGE_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string())])
RESOLUTION_SCHEMA = pa.schema([("id", pa.string()), ("keep", pa.string()), ("size", pa.int64())])


def components(edges: Any, max_driver_edges: int, max_rounds: int = 64) -> pa.Table:
    """Clusters of a Ray Dataset of edges (columns a, b): one row per document in a cluster."""
    edges = edges.materialize()
    if edges.count() <= max_driver_edges:
        import ray

        tables = [t for t in ray.get(edges.to_arrow_refs()) if t.num_rows]
        table = pa.concat_tables(tables) if tables else EDGE_SCHEMA.empty_table()
        return components_in_memory(table["a"].to_pylist(), table["b"].to_pylist())
    return components_distributed(edges, max_rounds)


def components_in_memory(a: list[str], b: list[str]) -> pa.Table:
    """Connected components of an edge list with scipy (over the edges only)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not a:
        return RESOLUTION_SCHEMA.empty_table()
    names, index = np.unique(np.array(a + b, dtype=object), return_inverse=True)
    left, right = index[: len(a)], index[len(a):]
    graph = coo_matrix((np.ones(len(a)), (left, right)), shape=(len(names), len(names)))
    _, label = connected_components(graph, directed=False)
    order = np.lexsort((names.astype(str), label))  # within a component, ids ascending
    first = np.concatenate([[True], label[order][1:] != label[order][:-1]])
    root_of_label = {label[order][k]: names[order][k] for k in np.flatnonzero(first)}
    sizes = np.bincount(label)
    return pa.table({"id": list(names), "keep": [root_of_label[x] for x in label], "size": sizes[label].astype(np.int64)},
                    schema=RESOLUTION_SCHEMA)


def components_distributed(edges: Any, max_rounds: int) -> pa.Table:
    """Large-star / small-star rounds on Ray Data until the edges stop changing; then every
    edge links a document to its component's smallest id (a star per component)."""
    from ray.data.aggregate import Count, Min

    current = edges.map_batches(_undirected_distinct, batch_format="pyarrow").materialize()
    previous = None
    for _ in range(max_rounds):
        current = _star(current, large=True)
        current = _star(current, large=False).materialize()
        signature = _edge_set_signature(current)
        if signature == previous:
            break
        previous = signature
    else:
        raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
    # a star per component: each child once, with its root (duplicate edges collapse here)
    stars = current.groupby("a").aggregate(Min("b", alias_name="keep")).materialize()
    children = pa.concat_tables([t.select(["a", "keep"]) for t in _arrow(stars) if t.num_rows])
    sizes = {r["keep"]: r["count()"] + 1 for r in stars.groupby("keep").aggregate(Count()).iter_rows()}
    rows = {"id": children["a"].to_pylist() + list(sizes), "keep": children["keep"].to_pylist() + list(sizes)}
    rows["size"] = [sizes[k] for k in rows["keep"]]
    return pa.table(rows, schema=RESOLUTION_SCHEMA)


def _arrow(ds: Any) -> list[pa.Table]:
    import ray

    return ray.get(ds.to_arrow_refs())


def _undirected_distinct(batch: pa.Table) -> pa.Table:
    """Each edge as (larger id, smaller id), self-loops dropped."""
    a, b = batch["a"], batch["b"]
    a_larger = pc.greater(a, b)
    hi, lo = pc.if_else(a_larger, a, b), pc.if_else(a_larger, b, a)
    keep = pc.not_equal(hi, lo)
    return pa.table({"a": hi.filter(keep), "b": lo.filter(keep)}, schema=EDGE_SCHEMA)


def _star(edges: Any, large: bool) -> Any:
    """One star step. Large: every node links its larger neighbours to the smallest of its
    neighbourhood. Small: every node links itself and its smaller neighbours to the smallest."""
    if large:
        return edges.map_batches(_both_directions, batch_format="pyarrow").groupby("a").map_groups(_large_star, batch_format="pyarrow")
    return edges.groupby("a").map_groups(_small_star, batch_format="pyarrow")  # edges are (larger, smaller)


def _both_directions(batch: pa.Table) -> pa.Table:
    return pa.concat_tables([batch, pa.table({"a": batch["b"], "b": batch["a"]}, schema=EDGE_SCHEMA)])


def _large_star(group: pa.Table) -> pa.Table:
    node = group["a"][0].as_py()
    neighbours = set(group["b"].to_pylist())
    smallest = min(neighbours | {node})
    out = [v for v in neighbours if v > node and v != smallest]
    return pa.table({"a": out, "b": [smallest] * len(out)}, schema=EDGE_SCHEMA)


def _small_star(group: pa.Table) -> pa.Table:
    node = group["a"][0].as_py()
    smaller = set(group["b"].to_pylist())  # edges are (larger, smaller): these are all below node
    smallest = min(smaller)
    out = [v for v in smaller | {node} if v != smallest]
    return pa.table({"a": out, "b": [smallest] * len(out)}, schema=EDGE_SCHEMA)


def _edge_set_signature(edges: Any) -> tuple[int, int]:
    """(edge count, order-independent sum of edge hashes): equal from one round to the next
    only when the edge set did not change (up to a 2^-64 collision)."""
    import pandas as pd

    def partial(batch: pa.Table) -> pa.Table:
        hashes = pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy()  # per row, stable across processes
        with np.errstate(over="ignore"):
            total = int(hashes.sum(dtype=np.uint64)) if len(hashes) else 0
        return pa.table({"n": [len(hashes)], "sum": [total]}, schema=pa.schema([("n", pa.int64()), ("sum", pa.uint64())]))

    rows = edges.map_batches(partial, batch_format="pyarrow").take_all()
    return sum(r["n"] for r in rows), sum(r["sum"] for r in rows) % (1 << 64)
