"""The cost model behind `session-sync cost`: prices, measured counts, and both designs."""
