"""The QKeras networks of a design and their training (TensorFlow): the classifier, the VAE and
JointVAE encoders, the profile check, pruning, and a JointVAE's float parts (offchip.npz)."""
