# Client sources
