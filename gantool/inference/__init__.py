"""Using trained generators: the Translator, tiling, export, the translate command."""
