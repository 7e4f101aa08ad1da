"""Helpers for TensorFlow's sparse gradients (`tf.IndexedSlices`); private module."""

__all__ = []


def is_indexed_slices(value):
    """Whether `value` is a TensorFlow `IndexedSlices` (False on other backends)."""
    return type(value).__name__ == "IndexedSlices"


def dense_gradient(gradient):
    """`gradient` as a dense tensor; TensorFlow's `IndexedSlices` are summed into one.

    TensorFlow only does anything: an Embedding's `IndexedSlices` gradient may
    repeat rows, and Keras's `ops` act on each repeated row separately, which is
    wrong for rules that need the summed gradient (g^2, |g|, max |g|, norms).
    Other backends' gradients are returned unchanged.
    """
    if not is_indexed_slices(gradient):
        return gradient
    import tensorflow as tf

    return tf.convert_to_tensor(gradient)


def sum_duplicates(gradient):
    """`gradient` with the rows of a TensorFlow `IndexedSlices` that share an index summed.

    TensorFlow only does anything (other values are returned unchanged). An
    Embedding looked up twice in a batch gives repeated indices; Keras's `ops`
    act on each repeated row separately, so a rule that squares the gradient
    (Yogi's, Adan's, NovoGrad's second moment) would sum the squares instead of
    squaring the sum. TF2's Keras base class summed them first (TFA relied on
    it); Keras 3's does not, so every optimizer with a sparse path calls this.
    """
    if not is_indexed_slices(gradient):
        return gradient
    import tensorflow as tf

    unique, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)
