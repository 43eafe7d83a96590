"""Softmax attention `softmax(Q K^T + mask) V` with a hand-written gradient."""

from keras import ops

NEGATIVE = -1e9
"""Logit of a key a query may not see: its weight underflows to exactly 0."""


def attend(queries, keys, values, key_penalty=None, allowed=None):
    """`softmax(Q K^T - key_penalty * |k|^2) V` over the last axis of the logits.

    `queries` `[..., Q, D]` and `keys` `[..., N, D]` in float32, `values` `[..., N, K]`
    in any float dtype (the weights are cast to it); `key_penalty` a Python float or
    `None`; `allowed` `None` or booleans broadcasting to the logits `[..., Q, N]`
    (keys not allowed get the logit `NEGATIVE`). Returns `[..., Q, K]` in the dtype of
    `values`.

    The gradient is written out as in flash attention: with `P = softmax(...)`,
    `O = P V` and upstream `G`, `dlogits = P * (G V^T - rowsum(G * O))`, which needs no
    full-size reduction of `P * G V^T`, and both the compiled (XLA) and the uncompiled
    step run fewer full-size passes than autodiff's softmax gradient.
    """

    @ops.custom_gradient
    def attention(queries, keys, values):
        logits = ops.matmul(queries, ops.swapaxes(keys, -1, -2))
        if key_penalty is not None:
            logits = logits - key_penalty * ops.sum(ops.square(keys), axis=-1)[..., None, :]
        if allowed is not None:
            logits = ops.where(allowed, logits, NEGATIVE)
        weights = ops.softmax(logits, axis=-1)
        output = ops.matmul(ops.cast(weights, values.dtype), values)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            d_values = ops.matmul(ops.swapaxes(ops.cast(weights, values.dtype), -1, -2), upstream)
            d_weights = ops.cast(ops.matmul(upstream, ops.swapaxes(values, -1, -2)), "float32")
            row = ops.sum(ops.cast(upstream, "float32") * ops.cast(output, "float32"), axis=-1)
            d_logits = weights * (d_weights - row[..., None])
            d_queries = ops.matmul(d_logits, keys)
            d_keys = ops.matmul(ops.swapaxes(d_logits, -1, -2), queries)
            if key_penalty is not None:
                column = ops.sum(d_logits, axis=-2)[..., None]  # [..., N, 1]
                d_keys = d_keys - (2.0 * key_penalty) * column * keys
            return d_queries, d_keys, d_values

        return output, grad

    return attention(queries, keys, values)
