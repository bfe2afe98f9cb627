import keras
import numpy as np
import pytest
import tensorflow as tf

from yt8m.training.optimizers import ExamplesStaircaseDecay
from yt8m.training import optimizers
from yt8m.training import strategy as strategy_lib
from yt8m.training.optimizers import build_optimizer


def test_staircase_decay_counts_examples():
    schedule = ExamplesStaircaseDecay(0.01, 0.95, 4_000_000, 1024)
    # 3906 * 1024 = 3,999,744 < 4e6 <= 3907 * 1024 = 4,000,768
    for step, periods in [(0, 0), (3906, 0), (3907, 1), (7812, 1),
                          (7813, 2), (1_000_000, 256)]:
        np.testing.assert_allclose(
            float(schedule(step)), 0.01 * 0.95**periods, rtol=1e-6
        )
    # Halving the batch doubles the steps per period.
    half = ExamplesStaircaseDecay(0.01, 0.95, 4_000_000, 512)
    assert float(half(7812)) == float(schedule(3906))
    np.testing.assert_allclose(float(half(7813)), 0.0095, rtol=1e-6)


def test_schedule_serializes_and_drives_an_optimizer():
    schedule = ExamplesStaircaseDecay(0.1, 0.5, 10, 4)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, ExamplesStaircaseDecay)
    assert restored.get_config() == schedule.get_config()
    optimizer = build_optimizer("GradientDescentOptimizer", schedule,
                                clip_gradient_norm=0)
    var = keras.Variable([0.0])
    for _ in range(3):  # steps 0, 1, 2 -> 0, 4, 8 examples: lr 0.1
        optimizer.apply_gradients([(tf.constant([1.0]), var)])
    optimizer.apply_gradients([(tf.constant([1.0]), var)])  # step 3: 12 -> 0.05
    np.testing.assert_allclose(var.numpy(), [-0.35], rtol=1e-6)
    lr_config = optimizer.get_config()["learning_rate"]
    assert isinstance(
        keras.optimizers.schedules.deserialize(lr_config),
        ExamplesStaircaseDecay,
    )


@pytest.mark.parametrize("bad", [0, -1.0, "x", None])
def test_schedule_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match="argument `global_batch_size`"):
        ExamplesStaircaseDecay(0.01, 0.95, 4e6, bad)


def test_clipnorm_is_per_variable():
    optimizer = build_optimizer("GradientDescentOptimizer", 1.0,
                                clip_gradient_norm=1.0)
    assert optimizer.clipnorm == 1.0 and optimizer.global_clipnorm is None
    big, small = keras.Variable([0.0, 0.0]), keras.Variable([0.0, 0.0])
    big_grad = tf.constant([6.0, 8.0])  # norm 10 -> clipped to norm 1
    small_grad = tf.constant([0.3, 0.4])  # norm 0.5 -> unchanged
    optimizer.apply_gradients([(big_grad, big), (small_grad, small)])
    np.testing.assert_allclose(big.numpy(), [-0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(small.numpy(), [-0.3, -0.4], rtol=1e-6)


@pytest.mark.parametrize("clip", [0.0, -1.0, None])
def test_clipping_disabled_when_not_positive(clip):
    optimizer = build_optimizer("GradientDescentOptimizer", 1.0,
                                clip_gradient_norm=clip)
    assert optimizer.clipnorm is None
    var = keras.Variable([0.0, 0.0])
    optimizer.apply_gradients([(tf.constant([6.0, 8.0]), var)])
    np.testing.assert_allclose(var.numpy(), [-6.0, -8.0])


def test_adam_optimizer_is_tf1_adam():
    optimizer = build_optimizer("AdamOptimizer", 0.01)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (
        0.9, 0.999, 1e-8)
    # One step with a tiny gradient, where epsilon matters: TF1 Adam formula
    # lr_t = lr * sqrt(1 - b2) / (1 - b1); var -= lr_t * m / (sqrt(v) + eps).
    g = np.float64(1e-8)
    var = keras.Variable([0.0])
    optimizer.apply_gradients([(tf.constant([g], tf.float32), var)])
    m, v = 0.1 * g, 0.001 * g * g
    lr_t = 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9)
    expected = -lr_t * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(var.numpy(), [expected], rtol=1e-4)
    # Keras names keep Keras defaults.
    assert build_optimizer("adam", 0.01).epsilon == 1e-7


@pytest.mark.parametrize(
    "name, cls, attributes",
    [
        ("GradientDescentOptimizer", keras.optimizers.SGD, {"momentum": 0.0}),
        ("MomentumOptimizer", keras.optimizers.SGD, {"momentum": 0.9}),
        ("RMSPropOptimizer", keras.optimizers.RMSprop,
         {"rho": 0.9, "epsilon": 1e-10}),
        ("AdagradOptimizer", keras.optimizers.Adagrad,
         {"initial_accumulator_value": 0.1}),
        ("AdadeltaOptimizer", keras.optimizers.Adadelta,
         {"rho": 0.95, "epsilon": 1e-8}),
        ("adamw", keras.optimizers.AdamW, {}),
        ("sgd", keras.optimizers.SGD, {}),
        ("Adam", optimizers.FusedAdam, {"epsilon": 1e-7}),
        ("adam", optimizers.FusedAdam, {"epsilon": 1e-7}),
        ("AdamOptimizer", optimizers.FusedAdam, {"epsilon": 1e-8}),
    ],
)
def test_optimizer_names(name, cls, attributes):
    optimizer = build_optimizer(name, 0.5, clip_gradient_norm=2.0)
    assert type(optimizer) is cls
    assert optimizer.clipnorm == 2.0
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.5)
    for key, value in attributes.items():
        assert getattr(optimizer, key) == value, key


def test_kwargs_override_tf1_defaults():
    optimizer = build_optimizer("MomentumOptimizer", 0.1, momentum=0.5)
    assert optimizer.momentum == 0.5


def test_unknown_optimizer_lists_tf1_names():
    with pytest.raises(ValueError, match="AdamOptimizer"):
        build_optimizer("AdamOptimiser", 0.1)


def test_skip_gradient_aggregation_applies_replica_gradients_unsummed():
    # The training loop all-reduces gradients once itself; with the hook the
    # optimizer must not sum them over replicas again. conftest.py splits
    # the CPU into two logical devices. The loop's own (cached) strategy: a
    # fresh MirroredStrategy's collective keys collide with earlier ones in
    # the same process (see yt8m/training/strategy.py).
    strategy = strategy_lib.get_strategy(devices=["/cpu:0", "/cpu:1"])
    moved = {}
    for hooked in (False, True):
        with strategy.scope():
            variable = tf.Variable([0.0, 0.0])
            optimizer = optimizers.build_optimizer(
                "GradientDescentOptimizer", 1.0, clip_gradient_norm=0.0)
            optimizer.build([variable])
            if hooked:
                assert optimizers.skip_gradient_aggregation(optimizer)

        @tf.function
        def step():
            def replica_fn():
                optimizer.apply_gradients(
                    [(tf.constant([1.0, -2.0]), variable)])
            strategy.run(replica_fn)

        step()
        moved[hooked] = variable.numpy()
    np.testing.assert_allclose(moved[False], [-2.0, 4.0])  # summed: 2 x
    np.testing.assert_allclose(moved[True], [-1.0, 2.0])   # as given


def _numpy_tf1_adam(var, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """TF1 tf.train.AdamOptimizer, in float64 numpy (the oracle)."""
    var = np.array(var, np.float64)
    m, v = np.zeros_like(var), np.zeros_like(var)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        var = var - lr_t * m / (np.sqrt(v) + eps)
    return var, m, v


def _run(optimizer, init, grads, compiled=True):
    variables = [keras.Variable(x) for x in init]
    optimizer.build(variables)

    def step(gradients):
        optimizer.apply_gradients(zip(gradients, variables))

    step = tf.function(step) if compiled else step
    for gradients in grads:
        step([tf.constant(g) for g in gradients])
    return variables


def test_fused_adam_is_tf1_adam_over_several_steps():
    rng = np.random.default_rng(0)
    init = [rng.normal(size=(4, 6)).astype("float32"),
            rng.normal(size=(6,)).astype("float32")]
    grads = [[rng.normal(size=x.shape).astype("float32") for x in init]
             for _ in range(4)]
    optimizer = optimizers.FusedAdam(learning_rate=0.01, epsilon=1e-8)
    variables = _run(optimizer, init, grads)
    for i, variable in enumerate(variables):
        var, m, v = _numpy_tf1_adam(init[i], [g[i] for g in grads], 0.01)
        index = optimizer._get_variable_index(variable)
        np.testing.assert_allclose(variable.numpy(), var, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(optimizer._momentums[index].numpy(), m,
                                   rtol=1e-5, atol=1e-7)
        # float32 rounding of (g^2 - v) * 0.001: ~1e-5 relative.
        np.testing.assert_allclose(optimizer._velocities[index].numpy(), v,
                                   rtol=1e-4, atol=1e-9)
    assert int(optimizer.iterations.numpy()) == 4


def test_fused_adam_runs_one_fused_kernel_per_variable():
    optimizer = optimizers.FusedAdam(learning_rate=0.01)
    variables = [keras.Variable(np.zeros((3, 2), "float32")),
                 keras.Variable(np.zeros((2,), "float32"))]
    optimizer.build(variables)
    step = tf.function(lambda g: optimizer.apply_gradients(zip(g, variables)))
    graph = step.get_concrete_function(
        [tf.TensorSpec((3, 2)), tf.TensorSpec((2,))]).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("ResourceApplyAdam") == 2
    assert "Sqrt" not in types  # no element-wise Adam left over


def test_fused_adam_falls_back_for_sparse_gradients_and_amsgrad():
    rng = np.random.default_rng(1)
    init = [rng.normal(size=(5, 3)).astype("float32")]
    for kwargs in ({}, {"amsgrad": True}):
        results = []
        for cls in (keras.optimizers.Adam, optimizers.FusedAdam):
            table = keras.Variable(init[0])
            optimizer = cls(learning_rate=0.1, **kwargs)
            optimizer.build([table])
            for step in range(3):
                with tf.GradientTape() as tape:
                    rows = tf.gather(table, [0, 2, 2])  # IndexedSlices grad
                    loss = tf.reduce_sum(rows * (step + 1.0))
                grad = tape.gradient(loss, table)
                if kwargs:  # amsgrad: also a dense gradient
                    grad = tf.convert_to_tensor(grad)
                optimizer.apply_gradients([(grad, table)])
            results.append(table.numpy())
        np.testing.assert_allclose(results[1], results[0], rtol=1e-6)


def test_fused_adam_serializes():
    optimizer = optimizers.FusedAdam(learning_rate=0.02, beta_1=0.8,
                                     epsilon=1e-8, clipnorm=1.0)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert type(restored) is optimizers.FusedAdam
    assert restored.get_config() == optimizer.get_config()


def test_checkpoint_of_keras_adam_restores_into_fused_adam(tmp_path):
    # Checkpoints written before FusedAdam (keras Adam) keep working.
    rng = np.random.default_rng(2)
    init = [rng.normal(size=(3, 4)).astype("float32")]
    grads = [[rng.normal(size=(3, 4)).astype("float32")] for _ in range(2)]
    old = keras.optimizers.Adam(learning_rate=0.01)
    old_vars = _run(old, init, grads)
    path = tf.train.Checkpoint(optimizer=old, variables=old_vars).save(
        str(tmp_path / "ckpt"))
    new = optimizers.FusedAdam(learning_rate=0.01)
    new_vars = [keras.Variable(np.zeros((3, 4), "float32"))]
    new.build(new_vars)
    tf.train.Checkpoint(optimizer=new, variables=new_vars).restore(
        path).assert_consumed()
    for a, b in zip(old.variables, new.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fused_adam_under_mirrored_strategy():
    # Each replica updates its own copy of the variable and of m, v (the
    # distributed variables' handles inside strategy.extended.update).
    strategy = strategy_lib.get_strategy(devices=["/cpu:0", "/cpu:1"])
    grads = [np.array([0.5, -1.0], "float32"), np.array([2.0, 0.1],
                                                        "float32")]
    with strategy.scope():
        variable = tf.Variable([1.0, -1.0])
        optimizer = optimizers.FusedAdam(learning_rate=0.1, epsilon=1e-8)
        optimizer.build([variable])
        assert optimizers.skip_gradient_aggregation(optimizer)

    @tf.function
    def step(g):
        strategy.run(lambda: optimizer.apply_gradients([(g, variable)]))

    for g in grads:
        step(tf.constant(g))
    expected, _, _ = _numpy_tf1_adam([1.0, -1.0], grads, 0.1)
    for component in strategy.experimental_local_results(variable):
        np.testing.assert_allclose(component.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("scale", [0.0, 1e-3, 1.0, 50.0])
def test_clip_by_norm_matches_tf(scale):
    g = tf.constant(np.random.default_rng(3).normal(size=(7, 5)) * scale,
                    tf.float32)
    got = optimizers.clip_by_norm(g, 1.5).numpy()
    np.testing.assert_allclose(got, tf.clip_by_norm(g, 1.5).numpy(),
                               rtol=1e-6, atol=1e-12)
    norm = np.linalg.norm(g.numpy().astype("float64"))
    np.testing.assert_allclose(np.linalg.norm(got), min(norm, 1.5),
                               rtol=1e-6)


def test_clip_by_norm_sparse_gradient():
    g = tf.IndexedSlices(tf.constant([[3.0, 4.0]]), tf.constant([1]),
                         tf.constant([3, 2]))
    got = optimizers.clip_by_norm(g, 1.0)
    assert isinstance(got, tf.IndexedSlices)
    np.testing.assert_allclose(got.values.numpy(), [[0.6, 0.8]], rtol=1e-6)
