"""Seeing what goes over the wire: captures of a lab host's traffic and their ladder diagrams.

* :mod:`socklab.see.capture` -- ``lab-capture [HOST]`` in the client shell (tcpdump on the
  client), and the recording loop that ``make capture`` (tools/capture.py) shares.
* :mod:`socklab.see.ladder` -- ``lab-ladder FILE.pcap``: the capture as a sequence diagram,
  one column per lab host, in the terminal and as a picture (SVG and PNG).
"""
