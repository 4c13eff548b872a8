"""Connected components of a duplicate graph: each clustered document -> its component's smallest
id and size, as per-document decisions (`part`, `id`, `cluster_id`, `cluster_size`).

Near-duplicate detection yields edges (pairs of documents, each with its part); clusters are
the connected components. When scipy's labelling fits `task_memory` bytes (one process's
budget, a stage parameter; estimated from the edges' Arrow bytes), one process gathers the
edges and scipy labels the components: a Ray task that reserves that memory for edges on Ray
Data (the driver holds their count only), the driver for the edges of a resolve on the driver
(keys of one partition). Above that budget, or above the largest node's memory, they are
computed on Ray Data with the alternating large-star /
small-star algorithm (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC
2014): each step is one hash-partitioned shuffle of the edges, vectorised per partition,
O(log^2 n) steps; no process holds more than one partition, and the driver only counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.resolution import by_hash, map_batches, union

EDGE_SCHEMA = pa.schema([("a", pa.string()), ("a_part", pa.int32()), ("b", pa.string()), ("b_part", pa.int32())])
DECISION_SCHEMA = pa.schema([("part", pa.int32()), ("id", pa.string()), ("cluster_id", pa.string()), ("cluster_size", pa.int64())])
PAIR_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string())])


#: peak memory of `components_in_memory` above its process's start, per byte of its edges in
#: Arrow: 5.4x for ids of 47 characters (WARC record ids), 6.6x for ids of 2-8 characters
#: (2 M and 0.5 M random edges, peak RSS), rounded up
MEMORY_PER_EDGE_BYTE = 7


def components(edges: Any, task_memory: int, n: int, max_rounds: int = 64) -> Any:
    """Clusters of a Ray Dataset of edges: a Ray Dataset of decisions, one per clustered document
    (None when there are no edges). Edges as a table (a resolve on the driver) give a table, or
    go to Ray Data above the budget."""
    from dataprep import runtime

    if isinstance(edges, pa.Table):
        if edges.num_rows == 0:
            return None
        if MEMORY_PER_EDGE_BYTE * edges.nbytes <= task_memory:
            return components_in_memory(edges.cast(EDGE_SCHEMA))
        edges = runtime.data().from_arrow(edges)
    edges = edges.materialize()
    count = edges.count()
    if count == 0:
        return None
    need = MEMORY_PER_EDGE_BYTE * edges.size_bytes()
    if need <= min(task_memory, _largest_node_memory()):  # the driver holds their count, not the edges
        return runtime.data().from_arrow_refs([_in_one_task(edges, count, need)])
    return components_distributed(edges, n, max_rounds)


def _largest_node_memory() -> float:
    """The most memory one live node offers Ray's scheduler: a task reserving more would wait forever."""
    import ray

    return max((node["Resources"].get("memory", 0.0) for node in ray.nodes() if node["Alive"]), default=0.0)


def _in_one_task(edges: Any, count: int, need: int) -> Any:
    """The reference to the decisions of `components_in_memory` run in a Ray task that reserves
    `need` bytes, so the scheduler does not put it beside work that would run it out of memory.
    Its worker killed on every retry, or scipy out of memory, stops the run with one line saying
    what to change (a bare Ray error would say neither)."""
    import ray

    from dataprep.errors import TaskCrashed
    from dataprep.runtime import CRASH_RETRIES, worker_lost

    task = ray.remote(num_cpus=1, memory=need, max_retries=CRASH_RETRIES, num_returns=2)(_components_of_blocks)
    rows, clusters = task.remote(*edges.to_arrow_refs())
    try:
        ray.get(rows)  # a count: the decisions stay in the object store
    except (MemoryError, *worker_lost()) as exc:  # Ray's error for a task's MemoryError is a MemoryError
        raise TaskCrashed(out_of_memory(count, need, exc)) from None
    return clusters


def out_of_memory(count: int, need: int, exc: BaseException) -> str:
    """The one line for a components task that ran out of memory or lost its worker."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (f"connected components of {count:,} edges in one task (estimated {need / 2**30:.2f} GiB) failed "
            f"({type(exc).__name__}: {(lines[-1] if lines else '')[:200]}); lower minhash_dedup's component_task_memory "
            f"so they are computed on Ray Data, or give the workers more memory, and rerun to resume")


def _components_of_blocks(*blocks: pa.Table) -> tuple[int, pa.Table]:
    """`components_in_memory` of a Ray Dataset's blocks of edges (in a Ray task), and its row count."""
    decisions = components_in_memory(pa.concat_tables([t for t in blocks if t.num_rows]).cast(EDGE_SCHEMA))
    return decisions.num_rows, decisions


def components_in_memory(edges: pa.Table) -> pa.Table:
    """Connected components of an edge table with scipy (over the edges only). The ids are
    numbered in Arrow (a dictionary in order of first appearance), not as Python strings."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = pa.concat_arrays([edges["a"].combine_chunks(), edges["b"].combine_chunks()])
    parts = np.concatenate([edges["a_part"].to_numpy(), edges["b_part"].to_numpy()])
    encoded = ids.dictionary_encode()
    codes, names = encoded.indices.to_numpy(), encoded.dictionary
    m, k = edges.num_rows, len(names)
    graph = coo_matrix((np.ones(m), (codes[:m], codes[m:])), shape=(k, k))
    _, label = connected_components(graph, directed=False)
    part_of = np.empty(k, np.int32)
    part_of[codes] = parts
    nodes = pa.table({"label": label, "id": names.cast(pa.string())})
    order = nodes.sort_by([("label", "ascending"), ("id", "ascending")])  # within a component, ids ascending
    first = np.concatenate([[True], np.diff(order["label"].to_numpy()) != 0])
    root = pa.array(order["id"].filter(pa.array(first)))  # per label, in label order (labels are 0..L-1)
    sizes = np.bincount(label)
    return pa.table({"part": part_of, "id": nodes["id"], "cluster_id": root.take(pa.array(label)),
                     "cluster_size": sizes[label].astype(np.int64)}, schema=DECISION_SCHEMA)


def components_distributed(edges: Any, n: int, max_rounds: int) -> Any:
    """Large-star / small-star rounds on Ray Data until the edges stop changing; then every
    edge links a document to its component's smallest id (a star per component)."""
    nodes = map_batches(edges, _ends)  # (id, part) of every end, joined back at the end
    current = by_hash(map_batches(edges, _undirected), ["a", "b"], _distinct, n).materialize()
    previous = None
    for _ in range(max_rounds):
        current = by_hash(map_batches(current, _both_directions), ["a"], _large_star, n)
        current = by_hash(current, ["a"], _small_star, n)
        current = by_hash(current, ["a", "b"], _distinct, n).materialize()
        signature = _edge_set_signature(current)
        if signature == previous:
            break
        previous = signature
    else:
        raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
    stars = by_hash(current, ["a"], _smallest_neighbour, n)  # a star per component: each child once, with its root
    members = by_hash(stars, ["cluster_id"], _members, n)
    return by_hash(union(members, nodes), ["id"], _with_part, n)


def _ends(batch: pa.Table) -> pa.Table:
    n = batch.num_rows
    return pa.table({"part": pa.concat_arrays([batch["a_part"].combine_chunks(), batch["b_part"].combine_chunks()]),
                     "id": pa.concat_arrays([batch["a"].combine_chunks(), batch["b"].combine_chunks()]),
                     "cluster_id": pa.nulls(2 * n, pa.string()), "cluster_size": pa.nulls(2 * n, pa.int64())},
                    schema=DECISION_SCHEMA)


def _undirected(batch: pa.Table) -> pa.Table:
    """Each edge as (larger id, smaller id), self-loops dropped."""
    a, b = batch["a"], batch["b"]
    a_larger = pc.greater(a, b)
    hi, lo = pc.if_else(a_larger, a, b), pc.if_else(a_larger, b, a)
    keep = pc.not_equal(hi, lo)
    return pa.table({"a": hi.filter(keep), "b": lo.filter(keep)}, schema=PAIR_SCHEMA)


def _distinct(edges: pa.Table) -> pa.Table:
    return edges.group_by(["a", "b"]).aggregate([]).select(["a", "b"])


def _both_directions(batch: pa.Table) -> pa.Table:
    return pa.concat_tables([batch, pa.table({"a": batch["b"], "b": batch["a"]}, schema=PAIR_SCHEMA)])


def _large_star(edges: pa.Table) -> pa.Table:
    """Every node links its larger neighbours to the smallest of its neighbourhood (itself included)."""
    smallest = edges.group_by("a").aggregate([("b", "min")])
    joined = edges.join(smallest, "a")
    larger = pc.greater(joined["b"], joined["a"])
    return pa.table({"a": joined["b"].filter(larger), "b": pc.min_element_wise(joined["a"], joined["b_min"]).filter(larger)},
                    schema=PAIR_SCHEMA)


def _small_star(edges: pa.Table) -> pa.Table:
    """Edges are (larger, smaller): every node links itself and its smaller neighbours to the smallest."""
    smallest = edges.group_by("a").aggregate([("b", "min")])
    joined = edges.join(smallest, "a")
    others = pc.not_equal(joined["b"], joined["b_min"])
    return pa.concat_tables([pa.table({"a": joined["b"].filter(others), "b": joined["b_min"].filter(others)}, schema=PAIR_SCHEMA),
                             pa.table({"a": smallest["a"], "b": smallest["b_min"]}, schema=PAIR_SCHEMA)])


def _smallest_neighbour(edges: pa.Table) -> pa.Table:
    stars = edges.group_by("a").aggregate([("b", "min")])
    return pa.table({"id": stars["a"], "cluster_id": stars["b_min"]})


def _members(stars: pa.Table) -> pa.Table:
    """Every document of the partition's components (children and root) with its root and size."""
    counts = stars.group_by("cluster_id").aggregate([("id", "count")])
    children = stars.join(counts, "cluster_id")
    n, roots = children.num_rows, counts.num_rows
    return pa.table({"part": pa.nulls(n + roots, pa.int32()),
                     "id": pa.concat_arrays([children["id"].combine_chunks(), counts["cluster_id"].combine_chunks()]),
                     "cluster_id": pa.concat_arrays([children["cluster_id"].combine_chunks(), counts["cluster_id"].combine_chunks()]),
                     "cluster_size": pa.concat_arrays([pc.add(children["id_count"], 1).combine_chunks(),
                                                       pc.add(counts["id_count"], 1).combine_chunks()])}, schema=DECISION_SCHEMA)


def _with_part(rows: pa.Table) -> pa.Table:
    """Each clustered document with its part (from the edges' ends of the same id)."""
    clustered = pc.is_valid(rows["cluster_id"])
    ends = rows.filter(pc.invert(clustered)).select(["id", "part"]).group_by(["id"]).aggregate([("part", "min")])
    members = rows.filter(clustered).drop_columns(["part"]).join(ends, "id", join_type="inner")
    return pa.table({"part": members["part_min"], "id": members["id"], "cluster_id": members["cluster_id"],
                     "cluster_size": members["cluster_size"]}, schema=DECISION_SCHEMA)


def _edge_set_signature(edges: Any) -> tuple[int, int]:
    """(edge count, order-independent sum of edge hashes): equal from one round to the next
    only when the (distinct) edge set did not change (up to a 2^-64 collision)."""
    import pandas as pd

    def partial(batch: pa.Table) -> pa.Table:
        hashes = pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy()  # per row, stable across processes
        with np.errstate(over="ignore"):
            total = int(hashes.sum(dtype=np.uint64)) if len(hashes) else 0
        return pa.table({"n": [len(hashes)], "sum": [total]}, schema=pa.schema([("n", pa.int64()), ("sum", pa.uint64())]))

    rows = map_batches(edges, partial).take_all()  # one row per block: counts only
    return sum(r["n"] for r in rows), sum(r["sum"] for r in rows) % (1 << 64)
