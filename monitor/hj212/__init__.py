"""HJ 212-2017 receiver: data loggers of stations push their data to envmon over TCP.

:mod:`~monitor.hj212.protocol` (framing, CRC, data segment, acknowledgements),
:mod:`~monitor.hj212.codes` (factor codes, data flags), :mod:`~monitor.hj212.readings`
(packet → readings with canonical names, units and periods), :mod:`~monitor.hj212.server`
(the asyncio TCP server and its single ledger writer), :mod:`~monitor.hj212.client`
(``envmon hj212 send``).
"""
