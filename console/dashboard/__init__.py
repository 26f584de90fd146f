"""The overview dashboard: roll-up queries (selectors), Plotly figure specs (charts), pages (views)."""
