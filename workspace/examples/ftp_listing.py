"""Log in to ftp anonymously, look around /pub and download one file."""

import ftplib

with ftplib.FTP("ftp", timeout=10) as ftp:       # connects to port 21
    print(ftp.login())                           # anonymous, like a public FTP site
    print("now in", ftp.pwd())
    ftp.cwd("pub")
    ftp.dir()                                    # a listing like `ls -l`, printed line by line
    names = ftp.nlst()                           # just the names, as a list
    print("names:", names)
    with open("/tmp/README.txt", "wb") as f:
        ftp.retrbinary("RETR README.txt", f.write)   # the data arrives on a second connection
    print("downloaded", len(open("/tmp/README.txt", "rb").read()), "bytes")
