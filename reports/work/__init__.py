"""The work Offload's own kinds do: pure functions on data (sales, profiling, imaging, mailing,
charts, exports), which know nothing of jobs or Django's models, and the two modules that hand
their results to the engine (runs for the report kinds, batches for the image batch)."""
