"""syncd"""
