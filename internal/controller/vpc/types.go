package vpc

import "github.com/ovn-kubernetes/libovsdb/ovsdb"

type ovsdbOp = ovsdb.Operation
