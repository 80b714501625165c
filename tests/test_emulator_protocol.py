"""Protocol 2.0 framing (CRC, stuffing, parsing) and the X-series control tables, checked against
the ROBOTIS e-manual and against the real dynamixel_sdk's own encoder."""

import random

import pytest
from dynamixel_sdk import Protocol2PacketHandler

from drivers.dynamixel import protocol as p
from drivers.dynamixel.control_table import (
    HARDWARE_ERROR_BITS,
    control_table,
    control_table_for_number,
    decode_hardware_error,
)
from drivers.dynamixel.emulator.engine import fast_read_reply
from robot_stack.rig.motor_catalog import MOTOR_MODELS

SDK = Protocol2PacketHandler()


def test_crc_matches_the_emanual_ping_example_and_the_sdk():
    # e-manual, Protocol 2.0, Ping example: FF FF FD 00 01 03 00 01 | CRC 19 4E
    assert p.frame(1, p.PING) == bytes.fromhex("fffffd0001030001194e")
    rng = random.Random(1)
    for _ in range(50):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        assert p.crc16(data) == SDK.updateCRC(0, list(data), len(data))


def test_stuffing_matches_the_sdk_and_round_trips():
    rng = random.Random(2)
    for _ in range(200):
        params = bytes(
            rng.choice([0xFF, 0xFD, 0x00, rng.randrange(256)]) for _ in range(rng.randrange(0, 20))
        )
        ours = p.frame(7, p.WRITE, params)
        theirs = [0] * (len(params) + 10)
        theirs[4], theirs[5], theirs[6], theirs[7] = (
            7,
            (len(params) + 3) & 0xFF,
            (len(params) + 3) >> 8,
            p.WRITE,
        )
        theirs[8 : 8 + len(params)] = params
        stuffed = SDK.addStuffing(theirs)
        assert ours[:-2] == bytes([0xFF, 0xFF, 0xFD, 0x00]) + bytes(stuffed[4 : len(ours) - 2])
        assert p.unstuff(p.stuff(bytes([p.WRITE]) + params)) == bytes([p.WRITE]) + params
    assert p.stuff(b"\x03\xff\xff\xfd\x01") == b"\x03\xff\xff\xfd\xfd\x01"


def test_parser_resyncs_on_garbage_and_split_packets():
    parser = p.PacketParser()
    ping, read = p.frame(1, p.PING), p.frame(2, p.READ, bytes([132, 0, 4, 0]))
    stream = b"\x00\xff\x12\xff\xff" + ping + b"\xff\xff\xfd" + read
    for i in range(0, len(stream), 3):
        parser.feed(stream[i : i + 3])
    got = list(parser.packets())
    assert [(k.id, k.instruction, k.params, k.crc_ok) for k in got] == [
        (1, p.PING, b"", True),
        (2, p.READ, bytes([132, 0, 4, 0]), True),
    ]
    assert parser.pending == 0


def test_parser_flags_bad_crc_and_drops_a_stalled_false_header():
    parser = p.PacketParser()
    bad = bytearray(p.frame(3, p.PING))
    bad[-1] ^= 0xFF
    parser.feed(bytes(bad))
    (pkt,) = parser.packets()
    assert pkt.id == 3 and not pkt.crc_ok
    # A false header announcing 1000 bytes would swallow the next packet until the idle timeout.
    parser.feed(b"\xff\xff\xfd\x00\x01\xe8\x03" + p.frame(4, p.PING))
    assert list(parser.packets()) == []
    parser.discard_partial()
    assert [k.id for k in parser.packets()] == [4]


def test_fast_read_reply_has_the_layout_the_sdk_parses():
    answers = [
        (object(), 1, 0, bytes([1, 2, 3, 4])),
        (object(), 2, 0x80, bytes([5, 6, 7, 8])),
        (object(), 3, 0, bytes([9, 10, 11, 12])),
    ]
    (reply,) = fast_read_reply(answers)
    packet = reply.packet
    assert len(packet) == 8 + 3 * (4 + 4)
    assert packet[4] == p.BROADCAST_ID and packet[7] == p.STATUS
    assert p.crc16(packet[:-2]) == packet[-2] | (packet[-1] << 8)
    assert packet[8:14] == bytes([0, 1, 1, 2, 3, 4]) and packet[16:18] == bytes([0x80, 2])
    # A motor missing from the bus leaves the packet shorter than its LEN field claims.
    (short,) = fast_read_reply([answers[0], (None, 2, 0, bytes(4)), answers[2]])
    assert len(short.packet) == len(packet) - 8 and short.packet[5:7] == packet[5:7]


def test_fast_read_reply_is_byte_stuffed_like_every_status_packet():
    # Present Velocity -1 followed by a position whose low byte is 0xFD: FF FF FD on the wire.
    (reply,) = fast_read_reply([(object(), 1, 0, bytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFD, 0, 0, 0]))])
    assert b"\xff\xff\xfd\xfd" in reply.packet[7:]
    assert len(reply.packet) == 8 + (8 + 4) + 1


@pytest.mark.parametrize("name", sorted(MOTOR_MODELS))
def test_every_catalog_model_has_a_consistent_table(name):
    table = control_table(name)
    assert table.model.name == name
    assert control_table_for_number(table.model.model_number) is table
    assert table["goal_position"].address == 116 and table["present_position"].address == 132
    assert table["torque_enable"].address == 64 and not table["torque_enable"].eeprom
    assert table["operating_mode"].eeprom and table["homing_offset"].signed
    has_current = table.model.current_unit_ma is not None
    assert table.has("goal_current") == has_current and table.has("current_limit") == has_current
    assert table.has("present_current") == has_current and table.has("present_load") == (not has_current)
    spans = sorted((r.address, r.address + r.size) for r in table.registers.values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


def test_table_lookups_fail_with_names():
    with pytest.raises(KeyError, match="xl430-w250.*goal_current"):
        control_table("xl430-w250")["goal_current"]
    with pytest.raises(KeyError, match="xm999"):
        control_table("xm999-w1")
    with pytest.raises(KeyError, match="4242"):
        control_table_for_number(4242)


def test_hardware_error_bits_decode():
    assert decode_hardware_error(0) == []
    assert decode_hardware_error(0b100101) == ["input_voltage", "overheating", "overload"]
    assert set(HARDWARE_ERROR_BITS.values()) == {
        "input_voltage",
        "overheating",
        "motor_encoder",
        "electrical_shock",
        "overload",
    }
