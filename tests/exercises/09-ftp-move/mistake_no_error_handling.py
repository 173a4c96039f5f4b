# fails: keeps_source_on_failure
# passes: moves_matching, leaves_others, second_run
# One failed STOR (error_perm) ends the whole program with a traceback.
import fnmatch
import ftplib
import hashlib
import io

SOURCE = 'ftp'
TARGET = 'ftp-backup'
USER = 'student'
PASSWD = 'password'
SOURCE_DIR = 'exercise-outbox'
TARGET_DIR = 'exercise-inbox'
PATTERN = '*.dat'


def connect(host, folder):
    f = ftplib.FTP(host, timeout=10)
    f.login(USER, PASSWD)
    f.cwd(folder)
    return f


def move(src, dst, name):
    """Copy one file (binary), check the copy, and only then delete the original."""
    data = io.BytesIO()
    src.retrbinary('RETR ' + name, data.write)
    dst.storbinary('STOR ' + name, io.BytesIO(data.getvalue()))
    if dst.size(name) != len(data.getvalue()):
        raise ftplib.error_perm('550 size of the copy differs')
    src.delete(name)
    return hashlib.sha256(data.getvalue()).hexdigest()


def main():
    src = connect(SOURCE, SOURCE_DIR)
    dst = connect(TARGET, TARGET_DIR)
    dst.voidcmd('TYPE I')               # SIZE needs binary mode
    names = [n for n in src.nlst() if fnmatch.fnmatch(n, PATTERN)]
    print('*** %d files match %s on %s' % (len(names), PATTERN, SOURCE))
    moved = failed = 0
    for name in sorted(names):
        digest = move(src, dst, name)
        print('moved', name, digest[:16])
        moved += 1
    print('*** moved %d, failed %d' % (moved, failed))
    src.quit()
    dst.quit()


if __name__ == '__main__':
    main()
