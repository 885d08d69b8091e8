"""Operations: what staff see and do with the machinery (queues, workers, failures, bulk actions,
recurring work, performance, metrics, the audit log) and who may (roles). It stands on the engine,
the live layer (open streams, for /metrics) and the work (sparklines); its views use the app's
forms and views as any page does."""
