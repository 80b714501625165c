"""Finding a RealSense camera, configuring its colour sensor, and explaining what went wrong.

pyrealsense2 is imported here only when a RealSense camera is opened, so a machine without it runs
everything else.
"""

from __future__ import annotations

from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import ExposureSpec

ENUMERATE = "`rs-enumerate-devices -s` lists connected cameras and their serial numbers"
# The colour sensor's exposure is the UVC exposure_time_absolute control: units of 100 µs
# (the depth sensor's is in µs, but only the colour sensor is configured here).
COLOR_EXPOSURE_UNIT_US = 100


def import_realsense(name: str):
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        raise RobotStackError(
            f"camera '{name}' is a RealSense camera, but pyrealsense2 is not installed ({exc})",
            hint="`pip install pyrealsense2` (x86-64 and arm64 Linux wheels exist), or build librealsense "
            "with its Python bindings",
        ) from exc
    return rs


def find_serial(rs, context, name: str, serial: str | None) -> str:
    """The serial number to open: the configured one if connected, else the only camera there is."""
    connected = [device.get_info(rs.camera_info.serial_number) for device in context.query_devices()]
    listing = ", ".join(connected) if connected else "none"
    if serial is not None and serial in connected:
        return serial
    if serial is None and len(connected) == 1:
        return connected[0]
    if serial is None:
        what = "no RealSense camera is connected" if not connected else f"several are connected ({listing})"
        raise RobotStackError(
            f"camera '{name}' (realsense) has no serial and {what}",
            hint=f"set serial: in the rig file; {ENUMERATE}" + ("" if connected else _NOT_LISTED),
        )
    raise RobotStackError(
        f"camera '{name}': no RealSense camera with serial {serial} is connected (connected: {listing})",
        hint=f"{ENUMERATE}; fix serial: in the rig file" + _NOT_LISTED,
    )


_NOT_LISTED = (
    "; a camera that is plugged in but not listed needs the librealsense udev rules "
    "(99-realsense-libusb.rules) or a USB 3 port and cable"
)


def start_failure(name: str, where: str, width: int, height: int, fps: int, depth: bool, exc: Exception):
    streams = f"colour {width}x{height} rgb8 @ {fps} fps" + (" + depth z16" if depth else "")
    return RobotStackError(
        f"camera '{name}' ({where}) could not start {streams}: {exc}",
        hint="check the mode exists (`rs-enumerate-devices` lists each sensor's modes); on a USB 2 link "
        "(its 'Usb Type Descriptor' says 2.x) high resolutions and depth+colour do not fit: use a USB 3 "
        "port and cable, or a lower resolution/fps",
    )


def configure_color_sensor(rs, sensor, name: str, exposure: ExposureSpec) -> None:
    """Lock exposure, gain and white balance where the rig file asks to; leave them automatic otherwise."""

    def put(option, value: float, what: str) -> None:
        if not sensor.supports(option):
            raise RobotStackError(
                f"camera '{name}': the colour sensor has no {what} control",
                hint="remove that exposure field for this camera in the rig file",
            )
        limits = sensor.get_option_range(option)
        if not limits.min <= value <= limits.max:
            raise RobotStackError(
                f"camera '{name}': {what} {value:g} is outside the colour sensor's range "
                f"{limits.min:g}..{limits.max:g}",
                hint="pick a value in range (`rs-enumerate-devices -o` lists option ranges)",
            )
        sensor.set_option(option, value)

    if exposure.auto:
        if sensor.supports(rs.option.enable_auto_exposure):
            sensor.set_option(rs.option.enable_auto_exposure, 1)
    else:
        put(rs.option.enable_auto_exposure, 0, "auto exposure switch")
        if exposure.exposure_us is not None:
            units = max(1, round(exposure.exposure_us / COLOR_EXPOSURE_UNIT_US))
            put(rs.option.exposure, units, "exposure (100 µs units)")
        if exposure.gain is not None:
            put(rs.option.gain, exposure.gain, "gain")
    if exposure.white_balance_k is not None:
        put(rs.option.enable_auto_white_balance, 0, "auto white balance switch")
        put(rs.option.white_balance, exposure.white_balance_k, "white balance (K)")
    elif sensor.supports(rs.option.enable_auto_white_balance):
        sensor.set_option(rs.option.enable_auto_white_balance, 1)


def enable_global_time(rs, device) -> list[str]:
    """Ask every sensor for global-time timestamps (device clock mapped onto the host clock)."""
    notes = []
    for sensor in device.query_sensors():
        if sensor.supports(rs.option.global_time_enabled):
            try:
                sensor.set_option(rs.option.global_time_enabled, 1)
            except RuntimeError as exc:
                notes.append(f"global time not enabled on {sensor.get_info(rs.camera_info.name)}: {exc}")
    return notes
