"""The live layer: what an open page is sent while a job runs, polled (polling, fragments) or
pushed down a server-sent event stream (streams, subscriptions). It stands on the engine."""
