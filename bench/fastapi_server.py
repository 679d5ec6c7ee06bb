# For scale: the demo's endpoint the way FastAPI's documentation writes it,
# with BackgroundTasks. POST /send-notification/{email} answers 202, and a
# task appends "notification for {email}: {message}" to LOG_FILE once the
# response is sent. bench/load.ts runs it with Debian's packages
# (apt-get install python3-fastapi python3-uvicorn python3-uvloop
# python3-httptools), one process, no access log: its best case.
import os
import socket
from typing import Optional

import uvicorn
from fastapi import BackgroundTasks, Body, FastAPI

LOG_FILE = os.environ.get("LOG_FILE", "fastapi-log.txt")
app = FastAPI()


def write_notification(email: str, message: str) -> None:
    with open(LOG_FILE, mode="a") as log:
        log.write(f"notification for {email}: {message}\n")


@app.post("/send-notification/{email}", status_code=202)
async def send_notification(
    email: str,
    background_tasks: BackgroundTasks,
    message: Optional[str] = Body(None, embed=True),
):
    background_tasks.add_task(write_notification, email, message or "some notification")
    return {"message": "Notification sent in the background"}


if __name__ == "__main__":
    # Listening before the address is printed: the load script connects at once.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("PORT", "0"))))
    sock.listen(1024)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
