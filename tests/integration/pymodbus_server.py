# SPDX-License-Identifier: Apache-2.0
"""A Modbus server we did not write: Debian's pymodbus 3.0, serving a
register layout given as JSON, over TCP or RTU (a serial port or pty).

  pymodbus_server.py LAYOUT.json --tcp PORT
  pymodbus_server.py LAYOUT.json --rtu PATH

LAYOUT: {"hr": {"addr": value, ...}, "ir": {...}, "co": {...}, "di": {...}},
zero-based addresses (zero_mode=True), register values 0..65535.
"""
import asyncio
import json
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

SIZE = 400


def block(values):
    data = [0] * SIZE
    for addr, v in values.items():
        data[int(addr)] = v
    # zero_mode: address 0 of the block is register 0 on the wire
    return ModbusSequentialDataBlock(0, data)


def main():
    layout = json.load(open(sys.argv[1]))
    store = ModbusSlaveContext(di=block(layout.get("di", {})), co=block(layout.get("co", {})),
                               hr=block(layout.get("hr", {})), ir=block(layout.get("ir", {})),
                               zero_mode=True)
    context = ModbusServerContext(slaves=store, single=True)
    if sys.argv[2] == "--tcp":
        asyncio.run(StartAsyncTcpServer(context=context,
                                        address=("127.0.0.1", int(sys.argv[3]))))
    else:
        asyncio.run(StartAsyncSerialServer(context=context, framer=ModbusRtuFramer,
                                           port=sys.argv[3], baudrate=19200, timeout=0.05))


if __name__ == "__main__":
    main()
