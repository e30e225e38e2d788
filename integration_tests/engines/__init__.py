"""Reference video-analytics engines used by the integration tests and the demo.

They reproduce the query algorithms, frame loaders and cost models of NoScope (binary detection
cascades) and BlazeIt (aggregation and limit queries) with today's libraries. They never import
smolplug: the adapters in ``adapters/`` patch them from the outside.
"""
