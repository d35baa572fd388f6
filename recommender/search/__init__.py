"""Questions about films: queries, filters, the ranking pipeline and the engine."""
