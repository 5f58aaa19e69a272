"""What runs leave behind and how it is shown: records, the leaderboard table, plots, published
numbers and the grid status.
"""
