"""archive/review"""
