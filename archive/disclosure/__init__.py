"""archive/disclosure"""
