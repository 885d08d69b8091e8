"""Operations: what staff see and do with the machinery (queues, workers, failures, bulk actions,
recurring work, performance, metrics, the audit log) and who may (roles). It stands on the engine."""
