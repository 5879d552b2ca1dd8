"""Training data: loaders for the shared bundle and preference exports, and chat tokenization.

Modules (this ``__init__`` imports nothing):
    sources      the SFT data-source registry (name -> conversations) and the seeded mix
    records      the user's own data files (JSONL, JSON, Parquet, CSV, save_to_disk folders) as records
    shapes       OpenAI, ShareGPT and Alpaca records -> SFT conversations
    conversation the SFT example type (Conversation) every source returns
    ad_compliance the ad-compliance train split as SFT conversations
    preference   preference pairs {prompt, chosen, rejected}: registry, file formats (ours, TRL's), split
    chat         conversations rendered with the model's chat template, assistant-only labels
"""
