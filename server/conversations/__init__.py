"""Multi-turn chat with the history kept server-side: protocol (pydantic models), routes (thin),
serving (history trimming, generation, storing each exchange)."""
