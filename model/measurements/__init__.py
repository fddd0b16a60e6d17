"""The seed paper's measurements of a reference model (and the CMS thesis's JointVAE scores):
evaluation on fresh tracks, the metrics as functions of arrays, the defect ceiling, energy."""
