"""layer_utils.frame_matmul, and the layers that project frames with it."""

import numpy as np
import pytest
import tensorflow as tf

from tests.layers import frame_layer_checks as checks
from yt8m.layers import layer_utils
from yt8m.layers.attention_pooling import AttentionPooling
from yt8m.layers.dbof import DbofCluster
from yt8m.layers.nextvlad import NeXtVLAD
from yt8m.layers.soft_assignment import SoftAssignment


@pytest.mark.parametrize("shape", [(4, 6), (3, 5, 6), (2, 3, 4, 6)])
def test_frame_matmul_is_x_times_kernel(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(6, 7)).astype("float32")
    got = np.asarray(layer_utils.frame_matmul(x, kernel))
    np.testing.assert_allclose(got, x @ kernel, rtol=1e-5, atol=1e-5)


def test_frame_matmul_with_an_unknown_batch():
    fn = tf.function(lambda x, k: layer_utils.frame_matmul(x, k))
    concrete = fn.get_concrete_function(tf.TensorSpec((None, None, 6)),
                                        tf.TensorSpec((6, 3)))
    assert concrete.output_shapes.as_list() == [None, None, 3]
    x = np.ones((2, 4, 6), "float32")
    assert fn(x, np.ones((6, 3), "float32")).shape == (2, 4, 3)


@pytest.mark.parametrize("make_layer", [
    lambda: DbofCluster(16),
    lambda: SoftAssignment(5),
    lambda: NeXtVLAD(4, expansion=2, groups=2),
    lambda: AttentionPooling(6, num_heads=2),
], ids=["DbofCluster", "SoftAssignment", "NeXtVLAD", "AttentionPooling"])
def test_frame_projections_are_2d_matmuls(make_layer):
    # A batched matmul that broadcasts the kernel (what ops.einsum gives)
    # forms the kernel's gradient per example and then sums over the batch.
    layer = make_layer()
    frames = checks.make_frames(batch=3, steps=6, features=8)
    layer(frames)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.square(y))
        return tape.gradient(loss, layer.trainable_variables)

    graph = step.get_concrete_function(tf.TensorSpec((None, 6, 8))).graph
    assert "MatMul" in {op.type for op in graph.get_operations()}
    broadcast = [
        op.name for op in graph.get_operations()
        if op.type in ("BatchMatMulV2", "BatchMatMulV3", "Einsum")
        and any(t.shape.rank == 2 for t in op.inputs)
    ]
    # NeXtVLAD's and AttentionPooling's aggregations over frames are
    # per-example products of two [B, ...] tensors; a kernel is rank 2.
    assert not broadcast, broadcast
