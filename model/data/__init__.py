"""Tracks: the public release's format, its readers and streaming importer, the features cache,
the synthetic generator, readout and the design's input codes, sensor defects, and the
``pixvae data`` commands."""
