"""What a design is: its description (design.toml read into a Design, the graph every stage walks),
the fixed-point formats it is written in, and the ranges its values can reach."""
