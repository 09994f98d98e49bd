package ops_test

import "github.com/ovn-kubernetes/libovsdb/ovsdb"

type ovsdbOp = ovsdb.Operation
