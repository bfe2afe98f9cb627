"""LstmModel: stacked LSTM over the valid frames (starter code)."""

from yt8m.hparams import HParam
from yt8m.hparams import declare
from yt8m.layers import recurrent
from yt8m.models import base
from yt8m.registry import register_model


@register_model
class LstmModel(base.FrameLevelModel):
    """Stacked LSTMs; the top layer's `h` at the last valid frame -> head.

    Upstream: `MultiRNNCell` of `lstm_layers` `BasicLSTMCell(lstm_cells,
    forget_bias=1.0)` run by `dynamic_rnn(sequence_length=num_frames)`, then
    `state[-1].h` into the video-level classifier. Here: Keras `LSTM` layers
    with `unit_forget_bias=True` and the `num_frames` mask, so every layer
    stops updating after the last valid frame.

    Args:
      num_classes: C.
      feature_sizes: list of feature sizes, e.g. [1024, 128].
      max_frames: T, or None. Default 300.
      lstm_cells: units per layer. Default 1024.
      lstm_layers: number of stacked layers. Default 2.
      video_level_classifier_model, moe_num_mixtures, moe_l2, l2_penalty:
        the head (`base.FrameLevelModel`).

    Inputs: {"video_matrix": [B, T, F], "num_frames": [B] int32}.
    Returns: probabilities [B, C].
    """

    HPARAMS = declare(
        HParam("lstm_cells", "integer", 1024, "Number of LSTM cells.",
               check="positive"),
        HParam("lstm_layers", "integer", 2, "Number of LSTM layers.",
               check="positive"),
    )

    def encode_frames(self, tower, frames, mask, hp):
        x = frames
        for layer_index in range(hp.lstm_layers):
            top = layer_index == hp.lstm_layers - 1
            x = recurrent.LSTM(
                hp.lstm_cells,
                unit_forget_bias=True,
                return_sequences=not top,
                name=f"lstm_{layer_index}",
            )(x, mask=mask)  # [B, T, U] below the top, [B, U] at the top
        return x, None

    def pool_frames(self, tower, frames, mask, hp):
        return frames  # the top layer's state at the last valid frame
