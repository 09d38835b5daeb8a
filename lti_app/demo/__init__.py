"""The built-in demo LMS: a small but real LTI 1.3 platform for ``make demo`` and the tests.

It is on in the development, demo and test environments and never in
production (``create_demo_lms`` refuses). See app.py for how it is mounted.
"""

from lti_app.demo.app import DEMO_ENVS, create_demo_lms, demo_platform, mount_demo_lms
from lti_app.demo.platform import CLIENT_ID, DEPLOYMENT_ID, MOUNT_PATH
from lti_app.demo.registration import register_with_tool

__all__ = [
    "CLIENT_ID",
    "DEMO_ENVS",
    "DEPLOYMENT_ID",
    "MOUNT_PATH",
    "create_demo_lms",
    "demo_platform",
    "mount_demo_lms",
    "register_with_tool",
]
