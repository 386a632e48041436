"""On-call drills: drive a scenario into the local stack and watch alerts fire, route,
inhibit and resolve."""
