"""The committed reference as integers: the bit-exact integer model (what the RTL must compute),
the chip's discrete KL, the quantized decoder, the reference folder's files and their helpers.
Nothing here imports TensorFlow when imported."""
