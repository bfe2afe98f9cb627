"""Dense-algebra FLOPs of a traced TensorFlow graph, counted op by op.

`graph_flops(graph, loop_trips)` walks a (concrete function's) graph and
every function it calls, and adds, for each op with fully known shapes:

* MatMul: 2 M N K; BatchMatMul{,V2,V3}: batch * 2 M N K;
* Einsum (two operands): 2 * the product of the sizes of all its indices;
* Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter: 2 * (elements of the
  forward output) * kh * kw * cin; DepthwiseConv2dNative (and its
  backprops): 2 * (elements of the forward output) * kh * kw.

Elementwise ops, reductions and softmaxes are not counted (like the peer
benchmark's "analytic matmul" FLOPs): the figure is the work the matmul peak
is about. Called functions (PartitionedCall) count once; `If` counts its
costlier branch; a `While` body counts `loop_trips` times (the recurrent
layers' time loop: the caller passes the number of frames), since the trip
count of a `tf.while_loop` is not in the graph. Ops whose shapes are not
static are counted in `unknown_ops` and add nothing.

Used on a training step (forward, backward and optimizer in one graph), so
the backward pass is counted from its own ops, not estimated as 2x forward.
"""

import numpy as np
import tensorflow as tf

_MATMUL = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
_CONV = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
         "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
         "DepthwiseConv2dNativeBackpropFilter")
_CALLS = ("PartitionedCall", "StatefulPartitionedCall")
_WHILES = ("While", "StatelessWhile")
_IFS = ("If", "StatelessIf")


def _shape(tensor):
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape.as_list()):
        return None
    return shape.as_list()


def _matmul(op):
    a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
    if a is None or b is None:
        return None
    if op.type == "MatMul":
        ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    else:
        ta, tb = op.get_attr("adj_x"), op.get_attr("adj_y")
    m, k = (a[-1], a[-2]) if ta else (a[-2], a[-1])
    n = b[-2] if tb else b[-1]
    batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    return 2.0 * float(np.prod(batch, dtype=np.float64)) * m * n * k


def _einsum(op):
    equation = op.get_attr("equation").decode()
    inputs, _ = equation.split("->")
    operands = inputs.split(",")
    if len(operands) != 2 or "." in equation:
        return None
    sizes = {}
    for letters, tensor in zip(operands, op.inputs):
        shape = _shape(tensor)
        if shape is None or len(shape) != len(letters):
            return None
        for letter, size in zip(letters, shape):
            sizes[letter] = max(sizes.get(letter, 1), size)
    return 2.0 * float(np.prod(list(sizes.values()), dtype=np.float64))


def _conv(op):
    if op.type in ("Conv2D", "DepthwiseConv2dNative"):
        out, kernel = _shape(op.outputs[0]), _shape(op.inputs[1])
    elif op.type.endswith("BackpropInput"):
        out, kernel = _shape(op.inputs[2]), _shape(op.inputs[1])
    else:  # BackpropFilter: inputs (input, filter_sizes, out_backprop)
        out = _shape(op.inputs[2])
        kernel = tf.get_static_value(op.inputs[1])
        kernel = None if kernel is None else list(kernel)
    if out is None or kernel is None:
        return None
    kh, kw, cin = kernel[0], kernel[1], kernel[2]
    per_output = kh * kw * (1 if "Depthwise" in op.type else cin)
    return 2.0 * float(np.prod(out, dtype=np.float64)) * per_output


def graph_flops(graph, loop_trips=1):
    """{"flops": float, "unknown_ops": int, "by_op": {type: flops}}."""
    totals = {"flops": 0.0, "unknown_ops": 0, "by_op": {}}
    _walk(graph, graph, 1.0, loop_trips, totals)
    return totals


def _function_graph(root, graph, name):
    for holder in (graph, root):
        function = getattr(holder, "_functions", {}).get(name)
        if function is not None:
            return getattr(function, "graph", None)
    return None


def _walk(root, graph, multiplier, loop_trips, totals):
    for op in graph.get_operations():
        flops = 0.0
        if op.type in _MATMUL:
            flops = _matmul(op)
        elif op.type == "Einsum":
            flops = _einsum(op)
        elif op.type in _CONV:
            flops = _conv(op)
        elif op.type in _CALLS:
            sub = _function_graph(root, graph, op.get_attr("f").name)
            if sub is not None:
                _walk(root, sub, multiplier, loop_trips, totals)
            continue
        elif op.type in _WHILES:
            sub = _function_graph(root, graph, op.get_attr("body").name)
            if sub is not None:
                _walk(root, sub, multiplier * loop_trips, loop_trips, totals)
            continue
        elif op.type in _IFS:
            best = None
            for branch in ("then_branch", "else_branch"):
                sub = _function_graph(root, graph, op.get_attr(branch).name)
                if sub is None:
                    continue
                part = {"flops": 0.0, "unknown_ops": 0, "by_op": {}}
                _walk(root, sub, multiplier, loop_trips, part)
                if best is None or part["flops"] > best["flops"]:
                    best = part
            if best is not None:
                totals["flops"] += best["flops"]
                totals["unknown_ops"] += best["unknown_ops"]
                for key, value in best["by_op"].items():
                    totals["by_op"][key] = totals["by_op"].get(key, 0) + value
            continue
        else:
            continue
        if flops is None:
            totals["unknown_ops"] += 1
            continue
        totals["flops"] += multiplier * flops
        totals["by_op"][op.type] = (totals["by_op"].get(op.type, 0.0)
                                    + multiplier * flops)
