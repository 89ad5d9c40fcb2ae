"""A separate process that writes to a register (run by the concurrency and kill -9 tests).

python register_worker.py URL register N    — register N cases, print their numbers
python register_worker.py URL append NUMBER N TAG — append N facts-changed events to one case (retrying conflicts)
python register_worker.py URL tick AT          — one tick at AT, print its counts
python register_worker.py URL loop           — register, append and tick until killed
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.register import ConflictError, Register

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 9, 20, 10, 0, tzinfo=TZ)


def case(i: int) -> dict:
    return {
        "facts": {
            "received_at": "2024-09-03T09:30:00+08:00",
            "accepted_at": "2024-09-03T14:00:00+08:00",
            "region": "domestic",
            "cause": "quality_abnormal",
            "upheld": True,
            "loss_occurred": True,
            "customer_name": f"客户{i}",
        }
    }


def main() -> None:
    url, mode, *rest = sys.argv[1:]
    reg = Register(url)
    print("ready", flush=True)
    if mode == "register":
        for i in range(int(rest[0])):
            print(reg.open_case("pcb-manufacturer", case(i), NOW).number, flush=True)
    elif mode == "append":
        number, count, tag = rest[0], int(rest[1]), rest[2]
        for i in range(count):
            while True:
                version = reg.get(number).version
                try:
                    reg.append(
                        number, "facts-changed", NOW, based_on=version, patch={"order_no": f"{tag}-{i}"}, actor=tag
                    )
                    break
                except ConflictError:
                    continue
            print(f"{tag}-{i}", flush=True)
    elif mode == "tick":
        import json

        print(json.dumps(reg.tick(datetime.fromisoformat(rest[0]))), flush=True)
    elif mode == "loop":
        i = 0
        while True:
            number = reg.open_case("pcb-manufacturer", case(i), NOW).number
            print(f"registered {number}", flush=True)
            view = reg.append(number, "facts-changed", NOW, patch={"order_no": f"o-{i}"})
            print(f"appended {number} {view.version}", flush=True)
            reg.tick(NOW + timedelta(days=30 + i))
            i += 1


if __name__ == "__main__":
    main()
