"""Initial MFB outputs on one real shard (docs/mfb.md, "why does MFB underperform").

  .venv/bin/python experiments/mfb/diagnose_init.py
"""
import numpy as np, tensorflow as tf, sys
sys.path.insert(0, ".")
from yt8m.layers.mfb_fusion import MFBFusion
recs = []
for r in tf.data.TFRecordDataset("../shared/data/yt8m_real/video_level_2018/validate0050.tfrecord"):
    ex = tf.train.Example.FromString(r.numpy())
    f = ex.features.feature
    recs.append(np.concatenate([np.array(f["mean_rgb"].float_list.value), np.array(f["mean_audio"].float_list.value)]))
x = np.array(recs, "float32"); x /= np.linalg.norm(x, axis=1, keepdims=True)
l, a = x[:, :1024], x[:, 1024:]
def mean_cos(z):
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    c = z @ z.T; n = len(z); return (c.sum() - n) / (n * n - n)
print("concat input mean pairwise cos", mean_cos(x))
print("rgb", mean_cos(l), "audio", mean_cos(a))
for norm in ["none", "relu_l2", "signed_sqrt_l2"]:
    m = MFBFusion(5, 1024, 0.0, norm)
    out = np.asarray(m(l, a))
    print(norm, "mean cos", mean_cos(out), "frac zero", np.mean(out == 0), "norm mean", np.linalg.norm(out, axis=1).mean())
# centred inputs
lc = l - l.mean(0); ac = a - a.mean(0)
m = MFBFusion(5, 1024, 0.0, "relu_l2"); out = np.asarray(m(lc, ac)); print("centred relu_l2 mean cos", mean_cos(out))
print("mean l norm vs per-video deviation", np.linalg.norm(l.mean(0)), np.linalg.norm(lc, axis=1).mean(), np.linalg.norm(a.mean(0)), np.linalg.norm(ac, axis=1).mean())
