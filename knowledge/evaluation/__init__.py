"""`newsdesk eval ...`: measured quality on BEIR-layout and JSONL evaluation sets."""
