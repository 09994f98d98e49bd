package sbdb

//go:generate go tool modelgen -p sbdb -o . ovn-sb.ovsschema
